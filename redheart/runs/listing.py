"""Every run under a folder, with where it stands: `redheart runs` and the console's Runs screen.

One row per run directory, read from the two ends of its events file
(event_window.py), its `config.toml`, its `best` checkpoint's `state.json`
and its lock, so listing a hundred week-long runs takes about as long as
listing a hundred short ones. A run whose files cannot be read is a row
with its problem (status "damaged"), never an error that hides the others.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from redheart.errors import RedHeartError
from redheart.runs.event_window import Events, head_events, tail_events
from redheart.runs.liveness import run_status

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RUN_MARKERS = ("events.jsonl", "config.toml", "lock")
"""What `redheart run` writes into a run directory first; any of them makes a folder a run."""
SPEED_STEPS = 20
"""samples/s is the median of the newest launch's last step events: one step is noisy."""


class RunsRootError(RedHeartError):
    """The folder to list is missing or is not a folder."""


@dataclass(frozen=True)
class RunSummary:
    """One run directory as a listing shows it; None where the run has not said yet."""

    path: Path
    name: str
    """The directory's name."""
    profile: str | None
    """The profile's `[run] name` (what `runs_root/<name>-<timestamp>` is named after)."""
    status: str
    """live, finished, stopped, failed, killed, or damaged (see `problem`)."""
    step: int | None
    total_steps: int | None
    best_loss: float | None
    """The eval loss that picked the `best` checkpoint."""
    best_step: int | None
    samples_per_s: float | None
    started_at: float | None
    """Epoch seconds of the first launch's run_started."""
    duration_s: float | None
    """From started_at to the newest event (pauses and gaps between launches included)."""
    size_bytes: int
    """Disk space the directory takes (allocated blocks, as du counts)."""
    last_loss: float | None = None
    """The newest step event's total training loss."""
    problem: str | None = None
    """Why the run is damaged: which file cannot be read, and how."""

    def as_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["path"] = str(self.path)
        return row


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and any((path / marker).exists() for marker in RUN_MARKERS)


def list_runs(root: Path) -> list[RunSummary]:
    """Every run directory directly under `root` (or `root` itself, when it is one),
    newest first; folders that are not runs are left out."""
    if not root.exists():
        raise RunsRootError(f"{root}: no such folder; pass the folder that holds the run "
                            f"directories (the profile's [run] runs_root, default runs/)")
    if not root.is_dir():
        raise RunsRootError(f"{root}: not a folder; pass the folder that holds the run "
                            f"directories (the profile's [run] runs_root, default runs/)")
    if is_run_dir(root):
        return [summarize_run(root)]
    try:
        children = sorted(p for p in root.iterdir() if is_run_dir(p))
    except OSError as exc:
        raise RunsRootError(f"{root}: cannot be read ({exc.strerror or exc})") from None
    rows = [summarize_run(p) for p in children]
    return sorted(rows, key=_newest_first)


SORTS = ("newest", "best")
"""`redheart runs --sort`: newest first, or the best eval loss first (picking a sweep's
winner out of a dozen rows by eye misreads 7.0350 against 7.0305)."""


def sort_runs(rows: list[RunSummary], by: str) -> list[RunSummary]:
    """`rows` newest first, or by best eval loss (lowest first; runs not yet evaluated
    after every evaluated one, newest first among them)."""
    newest = sorted(rows, key=_newest_first)
    if by == "newest":
        return newest
    if by == "best":
        return sorted(newest, key=lambda row: (row.best_loss is None, row.best_loss or 0.0))
    raise RunsRootError(f"--sort {by}: pick one of {', '.join(SORTS)}")


def _newest_first(row: RunSummary) -> float:
    if row.started_at is not None:
        return -row.started_at
    try:
        return -row.path.stat().st_mtime
    except OSError:
        return 0.0


def summarize_run(run_dir: Path) -> RunSummary:
    """One run's row; a file that cannot be read makes it "damaged", with the reason."""
    size = disk_usage(run_dir)
    base = {"path": run_dir, "name": run_dir.name, "size_bytes": size}
    try:
        config = _config(run_dir)
        head, tail = _read_events(run_dir)
    except _Damaged as exc:
        status = run_status(run_dir, [])
        return RunSummary(**base, **_EMPTY, profile=None,
                          status="live" if status == "live" else "damaged",
                          problem=None if status == "live" else str(exc))
    run = config.get("run") or {}
    profile = run.get("name") if isinstance(run.get("name"), str) else None
    return RunSummary(**base, profile=profile, status=run_status(run_dir, tail),
                      **_progress(run_dir, head, tail, config))


_EMPTY = {"step": None, "total_steps": None, "best_loss": None, "best_step": None,
          "samples_per_s": None, "started_at": None, "duration_s": None}


class _Damaged(Exception):
    """A file of the run that cannot be read; its message is the row's problem."""


def _config(run_dir: Path) -> dict[str, Any]:
    """The newest launch's resolved config (each launch writes it)."""
    path = run_dir / "config.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise _Damaged("config.toml is missing") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _Damaged(f"config.toml: unreadable ({_reason(exc)})") from None


def _read_events(run_dir: Path) -> tuple[Events, Events]:
    """(the first events, up to the first run_started; the last events, back to the
    newest one that names a step: a run paused for hours has written only memory
    samples since)."""
    path = run_dir / "events.jsonl"
    try:
        if path.stat().st_size == 0:
            raise _Damaged("events.jsonl is empty")
        head = head_events(path, lambda event: event.get("type") == "run_started")
        tail = tail_events(path, lambda evs: any(_names_step(e) is not None for e in evs))
    except FileNotFoundError:
        raise _Damaged("events.jsonl is missing") from None
    except OSError as exc:
        raise _Damaged(f"events.jsonl: unreadable ({_reason(exc)})") from None
    if not head or not tail:
        end = "start" if not head else "end"
        raise _Damaged(f"events.jsonl: no readable event at its {end} (garbled or cut)")
    return head, tail


def _reason(exc: BaseException) -> str:
    return (getattr(exc, "strerror", None) or str(exc)).splitlines()[0]


def _progress(run_dir: Path, head: Events, tail: Events,
              config: dict[str, Any]) -> dict[str, Any]:
    """Step, budget, best, speed and times from the two ends of the events."""
    first = _last_of(head, "run_started", first=True)
    newest = _last_of(tail, "run_started")
    begun = _last_of(tail, "plan")
    launch = tail[tail.index(begun):] if begun is not None else tail
    steps = [e for e in launch if e.get("type") == "step"]
    speeds = [e["samples_per_s"] for e in steps[-SPEED_STEPS:]
              if isinstance(e.get("samples_per_s"), (int, float))]
    started_at = (first or head[0]).get("t")
    last_t = tail[-1].get("t")
    best_loss, best_step = _best(run_dir, tail)
    loss = (steps[-1].get("loss") or {}).get("total") if steps else None
    return {
        "step": _current_step(tail, first),
        "total_steps": _total_steps(newest, first, config),
        "best_loss": best_loss, "best_step": best_step,
        "samples_per_s": statistics.median(speeds) if speeds else None,
        "started_at": started_at,
        "duration_s": last_t - started_at if _numbers(last_t, started_at) else None,
        "last_loss": loss,
    }


def _total_steps(newest: dict[str, Any] | None, first: dict[str, Any] | None,
                 config: dict[str, Any]) -> int | None:
    """The newest launch's step budget: its run_started says it; when that is beyond the
    tail, its config's `max_steps` is it (a resume may have raised it), else the first
    launch's (a budget in epochs)."""
    if newest is not None:
        return newest.get("total_steps")
    max_steps = (config.get("train") or {}).get("max_steps")
    if isinstance(max_steps, int) and max_steps > 0:
        return max_steps
    return first.get("total_steps") if first else None


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) for v in values)


def _last_of(events: Events, kind: str, first: bool = False) -> dict[str, Any] | None:
    found = [e for e in events if e.get("type") == kind]
    if not found:
        return None
    return found[0] if first else found[-1]


def _names_step(event: dict[str, Any]) -> int | None:
    """The step an event names (run_finished names it as `steps`), if any."""
    step = event.get("step")
    if event.get("type") == "run_finished":
        step = (event.get("summary") or {}).get("steps")
    return step if isinstance(step, int) else None


def _current_step(tail: Events, first: dict[str, Any] | None) -> int | None:
    """The newest step any event names."""
    for event in reversed(tail):
        if (step := _names_step(event)) is not None:
            return step
    return first.get("step") if first else None


def _best(run_dir: Path, tail: Events) -> tuple[float | None, int | None]:
    """The eval loss and step of the `best` checkpoint, else the lowest eval in the tail
    (a run killed between its first eval and that checkpoint's write)."""
    metrics, step = best_eval(run_dir)
    if metrics is not None and _numbers(metrics.get("loss")):
        return float(metrics["loss"]), step
    evals = [e for e in tail if e.get("type") == "eval"
             and _numbers((e.get("metrics") or {}).get("loss"))]
    if not evals:
        return None, None
    best = min(evals, key=lambda e: e["metrics"]["loss"])
    return float(best["metrics"]["loss"]), best.get("step")


def best_eval(run_dir: Path) -> tuple[dict[str, Any] | None, int | None]:
    """(eval metrics, step) recorded in the `best` checkpoint's state.json; (None, None)
    when there is none yet, or it cannot be read. The pointer is read as a plain file:
    the checkpoint module imports torch, which a listing must not wait for."""
    checkpoints = run_dir / "checkpoints"
    try:
        name = (checkpoints / "best").read_text().strip()
        meta = json.loads((checkpoints / name / "state.json").read_text())
        metrics, step = meta["metrics"]["eval"], meta["step"]
    except (OSError, ValueError, KeyError, TypeError):
        return None, None
    if not isinstance(metrics, dict) or not isinstance(step, int):
        return None, None
    return metrics, step


def disk_usage(path: Path) -> int:
    """Bytes allocated to a folder and everything under it (as `du` counts: a sparse or
    preallocated file counts what it really takes)."""
    total = 0
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        total += disk_usage(Path(entry.path))
                    else:
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
                except OSError:
                    continue
    except OSError:
        return total
    return total
