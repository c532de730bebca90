"""`redheart export-metrics RUN`: a run's scalars for other tools, from its events.jsonl.

The CSV is long, one row per (wall_time, step, tag, value), not one column
per tag: tags come and go (a task's loss only at steps whose batch holds
its rows, evals once an epoch, memory every second), so a wide table would
be mostly empty cells with columns that differ from run to run. Long rows
are what TensorBoard's own CSV download gives per tag, and one `pivot`
away from wide in pandas or a spreadsheet.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from redheart.errors import RedHeartError, cannot_write
from redheart.runs.events import stream_events
from redheart.runs.scalars import ScalarStream

CSV_COLUMNS = ("wall_time", "step", "tag", "value")


class ExportError(RedHeartError):
    """The run to export has no events file, or nothing was asked for."""


def events_path(run_dir: Path) -> Path:
    path = run_dir / "events.jsonl"
    if not path.is_file():
        raise ExportError(f"{path}: no such file; is {run_dir} a run directory? "
                          f"(`redheart runs` lists them)")
    return path


def export_tensorboard(run_dir: Path, out_dir: Path) -> int:
    """Scalars written under `out_dir` (read it with `tensorboard --logdir`)."""
    from redheart.runs.tensorboard_log import TensorBoardLog

    path = events_path(run_dir)
    if any(out_dir.glob("events.out.tfevents.*")):
        raise ExportError(f"--tensorboard {out_dir}: already holds TensorBoard event files; "
                          f"TensorBoard would show both, so pass an empty or new folder")
    log = TensorBoardLog(out_dir)
    try:
        for event in stream_events(path):
            log(event)
    except OSError as exc:
        raise cannot_write(out_dir, exc, "export-metrics") from None
    finally:
        log.close()
    return log.written


def check_csv_out(out: Path) -> None:
    """Refuse a --csv target that is a folder or an existing file.

    Like --tensorboard and `redheart export`, nothing is overwritten: a CSV
    exported earlier (or any file of the same name) may be someone's only copy.
    Called before either export starts, so a refusal writes nothing at all.
    """
    if out.is_dir():      # else the final rename fails and reads as a disk error (exit 1)
        raise ExportError(f"--csv {out}: a folder; name the file to write, e.g. "
                          f"--csv {out / 'metrics.csv'}")
    if out.exists():
        raise ExportError(f"--csv {out}: already exists; name a new file or remove it first "
                          f"(nothing is overwritten)")


def export_csv(run_dir: Path, out: Path) -> int:
    """Rows written to `out`, whole or not at all (written beside it, then renamed)."""
    check_csv_out(out)
    path = events_path(run_dir)
    stream = ScalarStream()
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    rows = 0
    try:
        with tmp.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(CSV_COLUMNS)
            for event in stream_events(path):
                for scalar in stream.scalars(event):
                    writer.writerow((scalar.wall_time, scalar.step, scalar.tag,
                                     repr(scalar.value)))
                    rows += 1
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _write_error(out, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rows


def _write_error(out: Path, exc: OSError) -> RedHeartError:
    """A folder that does not exist is the user's to fix (exit 2); a full disk is the
    machine's (exit 1)."""
    if not out.parent.is_dir():
        return ExportError(f"--csv {out}: its folder {out.parent} does not exist")
    return cannot_write(out, exc, "export-metrics")
