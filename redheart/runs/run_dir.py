"""The run directory: 0700, a pid lock, the resolved config (DESIGN §3)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from redheart.config import Config
from redheart.config_toml import dumps
from redheart.errors import RedHeartError


class RunDirError(RedHeartError):
    """The run directory cannot be used (locked by a live run, not a run directory)."""


def new_run_dir(config: Config) -> Path:
    """`runs_root/<name>-<YYYYmmdd-HHMMSS>`, unique, created 0700."""
    root = Path(config.run.runs_root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / f"{config.run.name}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = root / f"{config.run.name}-{stamp}-{suffix}"
    path.mkdir(mode=0o700)
    os.chmod(path, 0o700)  # mkdir's mode is masked by the umask
    return path


def prepare_run_dir(path: Path, config: Config, resuming: bool) -> None:
    """Create (0700) or reuse a run directory and record the resolved config."""
    if path.exists() and not path.is_dir():
        raise RunDirError(f"--run-dir {path}: exists and is not a directory")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    (path / "checkpoints").mkdir(exist_ok=True)
    if not resuming and (path / "events.jsonl").exists():
        raise RunDirError(f"{path}: already holds a run; pass --resume last to continue it or "
                          f"choose another --run-dir")
    (path / "config.toml").write_text(dumps(config))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """`lock` holds the pid of the run using the directory.

    A live pid refuses a second run; a dead pid (a crash or SIGKILL) is a
    stale lock: it is reported and taken over.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "lock"
        self.stale_pid: int | None = None

    def acquire(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                try:
                    pid = int(self.path.read_text().strip() or "0")
                except (OSError, ValueError):
                    pid = 0
                if pid and _alive(pid) and pid != os.getpid():
                    raise RunDirError(f"{self.path.parent}: in use by a live run (pid {pid}); "
                                      f"attach to it or stop it first") from None
                self.stale_pid = pid
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()}\n")
            return
        raise RunDirError(f"{self.path}: could not take the lock")

    def release(self) -> None:
        try:
            if self.path.read_text().strip() == str(os.getpid()):
                self.path.unlink()
        except OSError:
            pass
