"""The run directory: 0700, a pid lock taken before anything is written, the resolved config
(architecture.md §3)."""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path

from redheart.atomic_file import write_text_atomically
from redheart.config import Config
from redheart.config_toml import dumps
from redheart.errors import RedHeartError
from redheart.runs.recovery import remove_partial_checkpoints, repair_best_pointer


class RunDirError(RedHeartError):
    """The run directory cannot be used (locked by a live run, not a run directory)."""


class RunDirWriteError(RunDirError):
    """The run directory cannot be written (a full disk, a read-only filesystem); exit 1."""

    exit_code = 1


def in_use(path: Path, pid: int) -> RunDirError:
    return RunDirError(f"{path}: in use by a live run (pid {pid}); attach to it or stop it "
                       f"first")


def _write_failed(path: Path, exc: OSError) -> RunDirWriteError:
    return RunDirWriteError(f"{path}: cannot be written ({exc.strerror or exc}); free disk "
                            f"space or fix the run directory's permissions, then run again")


_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}


def _cannot_create(path: Path, exc: OSError) -> RunDirError:
    """A full or read-only disk ends the run (exit 1); a path that cannot be a directory
    (under a file, not permitted) is the user's input to fix (exit 2)."""
    if exc.errno in _DISK_ERRORS:
        return _write_failed(path, exc)
    return RunDirError(f"{path}: cannot create the run directory ({exc.strerror or exc}); "
                       f"choose another --run-dir or [run] runs_root")


def run_dir_name(config: Config) -> Path:
    """`runs_root/<name>-<YYYYmmdd-HHMMSS>` (`-2`, `-3`... when taken), not created yet."""
    root = Path(config.run.runs_root)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / f"{config.run.name}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = root / f"{config.run.name}-{stamp}-{suffix}"
    return path


def new_run_dir(config: Config) -> Path:
    """A `run_dir_name`, created 0700."""
    path = run_dir_name(config)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is masked by the umask
    except OSError as exc:
        raise _cannot_create(path, exc) from None
    return path


def _ensure_dir(path: Path) -> None:
    """Create or reuse `path` (0700) with its `checkpoints/` folder."""
    if path.exists() and not path.is_dir():
        raise RunDirError(f"--run-dir {path}: exists and is not a directory")
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        (path / "checkpoints").mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise _cannot_create(path, exc) from None


def _refuse_finished_run(path: Path, resuming: bool) -> None:
    if not resuming and (path / "events.jsonl").exists():
        raise RunDirError(f"{path}: already holds a run; pass --resume last to continue it or "
                          f"choose another --run-dir")


def write_config(path: Path, config: Config) -> None:
    """Record the resolved config, replaced atomically (a crash leaves the old or the new)."""
    try:
        write_text_atomically(path / "config.toml", dumps(config))
    except OSError as exc:
        raise _write_failed(path / "config.toml", exc) from None


def prepare_run_dir(path: Path, config: Config, resuming: bool) -> None:
    """Create (0700) or reuse a run directory and record the resolved config, without a lock.

    For in-process harnesses (tests, benchmarks) that own the directory;
    `redheart run` uses `claim_run_dir`, which locks first.
    """
    _ensure_dir(path)
    _refuse_finished_run(path, resuming)
    write_config(path, config)


def claim_run_dir(path: Path, resuming: bool) -> RunLock:
    """Create or reuse a run directory and lock it, before anything in it is written.

    A refused run (the directory is live, or holds a finished run) leaves
    every file as it was. With the lock held, no other process writes here,
    so what a killed run was writing (temporary checkpoint folders, a
    temporary config) is removed: it is never complete and only takes space;
    a `best` pointer the kill left behind is moved to the folder it should name.
    """
    _ensure_dir(path)
    lock = RunLock(path)
    lock.acquire()
    try:
        _refuse_finished_run(path, resuming)
        remove_partial_checkpoints(path / "checkpoints")
        repair_best_pointer(path / "checkpoints")   # before a resume prunes the real best
        for leftover in path.glob(".config.toml.*.tmp"):
            leftover.unlink(missing_ok=True)
    except BaseException:
        lock.release()
        raise
    return lock


_HELD: set[Path] = set()
"""Lock files this process holds: POSIX locks do not exclude their own process."""


def holds_lock_here(lock_path: Path) -> bool:
    """Whether this process holds that lock (and so must not open and close the file:
    closing any descriptor of it drops the process's lock)."""
    return lock_path.resolve() in _HELD


class RunLock:
    """`lock` holds the pid of the run using the directory, under a POSIX record lock.

    The kernel releases the record lock when its process ends, however it
    ends (SIGKILL included), and forked children (data-loader workers) do not
    inherit it. So a lock file whose lock can be taken is stale: the run that
    wrote its pid ended without releasing it. That is reported (`stale_pid`)
    and taken over. A recycled pid cannot make a stale lock look live.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "lock"
        self.stale_pid: int | None = None
        self._fd: int | None = None

    def acquire(self) -> None:
        key = self.path.resolve()
        if key in _HELD:
            raise RunDirError(f"{self.path.parent}: in use by a live run in this process "
                              f"(pid {os.getpid()}); stop it first")
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise _write_failed(self.path, exc) from None
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _read_pid(fd)
                os.close(fd)
                if exc.errno in (errno.EACCES, errno.EAGAIN):
                    raise in_use(self.path.parent, holder) from None
                raise RunDirError(f"{self.path}: cannot be locked ({exc.strerror}); put "
                                  f"[run] runs_root on a local filesystem") from None
            if not _same_file(fd, self.path):   # released and removed while we waited
                os.close(fd)
                continue
            pid = _read_pid(fd)
            self.stale_pid = pid if pid and pid != os.getpid() else None
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError as exc:
                os.close(fd)
                raise _write_failed(self.path, exc) from None
            self._fd = fd
            _HELD.add(key)
            return
        raise RunDirError(f"{self.path}: could not take the lock; retry")

    def release(self) -> None:
        """Remove the lock file, then drop the lock (closing the descriptor)."""
        if self._fd is None:
            return
        _HELD.discard(self.path.resolve())
        try:
            if _same_file(self._fd, self.path):
                self.path.unlink()
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None


def _read_pid(fd: int) -> int:
    try:
        return int(os.pread(fd, 64, 0).decode().strip() or "0")
    except (OSError, ValueError, UnicodeDecodeError):
        return 0


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False
