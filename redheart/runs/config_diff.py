"""`redheart diff RUN_A RUN_B`: what two runs were trained with differently, and what came of it.

The config side compares the two resolved `config.toml` files key by key
(dotted keys, as `--resume` names them). A key one run's file lacks was
written by an older version of the schema: it compares as the schema's
default, which is what that run used, so a new section does not bury the
real differences. The metrics side sets each run's final numbers (the
newest step and eval) and best ones (what picked its `best` checkpoint)
next to each other, read like the listing's from the end of the events.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from redheart.config import Config
from redheart.config_keys import flat_config
from redheart.config_toml import dumps
from redheart.errors import RedHeartError
from redheart.runs.event_window import tail_events
from redheart.runs.listing import RunSummary, best_eval, is_run_dir, summarize_run
from redheart.units import MIB

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class RunDiffError(RedHeartError):
    """A path given to `diff` is not a readable run directory."""


def diff_runs(a: Path, b: Path) -> dict[str, Any]:
    """{"runs": {"a", "b"}, "config": [{"key", "a", "b"}, ...] (sorted by key),
    "metrics": {name: {"a", "b"}}}."""
    configs = [_config(a), _config(b)]
    defaults = flat_config(tomllib.loads(dumps(Config())))
    keys = sorted(configs[0].keys() | configs[1].keys())
    rows = []
    for key in keys:
        va, vb = (c.get(key, defaults.get(key)) for c in configs)
        if va != vb:
            rows.append({"key": key, "a": va, "b": vb})
    sides = [_metrics(a), _metrics(b)]
    names = list(dict.fromkeys([*sides[0], *sides[1]]))
    return {"runs": {"a": str(a), "b": str(b)}, "config": rows,
            "metrics": {name: {"a": sides[0].get(name), "b": sides[1].get(name)}
                        for name in names}}


def _config(run_dir: Path) -> dict[str, Any]:
    if not is_run_dir(run_dir):
        raise RunDiffError(f"{run_dir}: not a run directory (no events.jsonl, config.toml or "
                           f"lock); `redheart runs` lists the runs of a folder")
    path = run_dir / "config.toml"
    try:
        return flat_config(tomllib.loads(path.read_text(encoding="utf-8-sig")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        reason = (getattr(exc, "strerror", None) or str(exc)).splitlines()[0]
        raise RunDiffError(f"{path}: unreadable ({reason}); its run's config cannot be "
                           f"compared") from None


def _metrics(run_dir: Path) -> dict[str, Any]:
    """A run's numbers by dotted name: status, final.* and best.*."""
    row: RunSummary = summarize_run(run_dir)
    best, best_step = best_eval(run_dir)
    newest_eval, train_loss = _final(run_dir)
    found: dict[str, Any] = {"status": row.status, "final.step": row.step,
                             "final.train_loss": train_loss}
    if newest_eval is not None:
        found["final.eval.step"] = newest_eval.get("step")
        found.update({f"final.eval.{k}": v for k, v in newest_eval["metrics"].items()})
    found["best.step"] = best_step if best is not None else row.best_step
    if best is not None:
        found.update({f"best.eval.{k}": v for k, v in best.items()})
    else:
        found["best.eval.loss"] = row.best_loss
    found["samples_per_s"] = row.samples_per_s
    return found


EVAL_SEARCH_BYTES = 64 * MIB
"""How far back from the end `diff` looks for the newest eval (evals come once an epoch;
two runs can afford more than a listing of a hundred)."""
TRAIN_LOSS_STEPS = 20
"""`final.train_loss` is the mean total of the run's last this many steps: each batch
comes from one source and their losses differ many times over (about 0.1 on a
dilemma-pair batch, 5 on an emotion batch in a quickstart run), so one step's total says
which source that batch drew, not how far the run got, and two runs' last steps compare
nothing."""


def _last_totals(events: list[dict[str, Any]]) -> list[float]:
    """The training totals of the run's last TRAIN_LOSS_STEPS steps, newest first, across
    launches: read backwards, a step at or past one already taken belongs to a launch a
    resume abandoned (it restarted below it), and a launch with no steps (a finished run
    launched again) takes nothing."""
    totals: list[float] = []
    below = float("inf")
    for event in reversed(events):
        step, total = event.get("step"), (event.get("loss") or {}).get("total")
        if (event.get("type") == "step" and isinstance(step, int) and step < below
                and isinstance(total, (int, float))):
            totals.append(total)
            below = step
            if len(totals) == TRAIN_LOSS_STEPS:
                break
    return totals


def _final(run_dir: Path) -> tuple[dict[str, Any] | None, float | None]:
    """(the newest eval event within EVAL_SEARCH_BYTES of the end, the mean training total
    of the run's last TRAIN_LOSS_STEPS steps)."""
    path = run_dir / "events.jsonl"

    def enough(events: list[dict[str, Any]]) -> bool:
        return (any(e.get("type") == "eval" for e in events)
                and len(_last_totals(events)) == TRAIN_LOSS_STEPS)

    try:
        tail = tail_events(path, enough, limit=EVAL_SEARCH_BYTES)
    except OSError:
        return None, None
    evals = [e for e in tail if e.get("type") == "eval" and isinstance(e.get("metrics"), dict)]
    totals = _last_totals(tail)
    return (evals[-1] if evals else None), (sum(totals) / len(totals) if totals else None)
