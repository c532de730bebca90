"""User-facing error types.

Every mistake a user can make (a bad profile, a bad data row, a checkpoint of
another architecture) is raised as a `RedHeartError`. The CLI turns it into
one line on stderr and exit code 2, so the user sees what to fix instead of a
traceback; `--debug` shows the traceback for bug reports.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class RedHeartError(Exception):
    """An error caused by input the user can fix; its message is one line."""

    exit_code = 2


class ConfigError(RedHeartError):
    """A profile, a `--set` override or a module selection is invalid."""


class TrainingError(RedHeartError):
    """Training cannot continue (non-finite values, too many skipped steps, a failed
    checkpoint write); exit 1."""

    exit_code = 1


class StartCancelled(RedHeartError):
    """The caller cancelled a run before its directory was created (the console's Stop
    while the data is read): nothing was written, so there is nothing to checkpoint."""

    exit_code = 1


class DiskWriteError(RedHeartError):
    """A file could not be written (a full disk, a quota, a read-only mount); exit 1.

    Not the user's input but the machine's state: freeing space and running
    the same command again is the fix, and the writer removed what it had
    half-written so that run starts clean.
    """

    exit_code = 1


def cannot_write(path: object, exc: OSError, rerun: str) -> DiskWriteError:
    """The one line for a failed write of `path`, naming the command to run again."""
    return DiskWriteError(f"{path}: cannot be written ({exc.strerror or exc}); nothing "
                          f"half-written was kept; free disk space, then run {rerun} again")


def unknown_name(where: str, what: str, value: str, valid: Iterable[str]) -> str:
    """"<where> unknown <what> '<value>'; did you mean '<closest>'?" (or the valid list).

    Short lists (choices of a value) are always shown whole, and suggested
    from only when the match is near ('goemotion'), not merely similar
    ('gpu' is not a misspelt 'cpu').
    """
    valid = list(valid)
    short = len(valid) <= 6
    close = difflib.get_close_matches(value, valid, n=1, cutoff=0.8 if short else 0.5)
    if close:
        hint = f"did you mean '{close[0]}'?"
    else:
        hint = "valid: " + ", ".join(v or '""' for v in valid)   # "" is "inherit"
    sep = " " if where.endswith(("]", ":")) else ": "
    return f"{where}{sep}unknown {what} '{value}'; {hint}"
