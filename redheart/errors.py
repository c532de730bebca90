"""User-facing error types.

Every mistake a user can make (a bad profile, a bad data row, a checkpoint of
another architecture) is raised as a `RedHeartError`. The CLI turns it into
one line on stderr and exit code 2, so the user sees what to fix instead of a
traceback; `--debug` shows the traceback for bug reports.
"""

from __future__ import annotations


class RedHeartError(Exception):
    """An error caused by input the user can fix; its message is one line."""

    exit_code = 2


class ConfigError(RedHeartError):
    """A profile, a `--set` override or a module selection is invalid."""
