"""Did a run learn? Loss figures of a run directory, read from its events.jsonl.

Prints the mean total loss of the first and last 10 logged steps (the
train-local acceptance check), the evaluation losses and the checkpoints.

    .venv/bin/python bench/loss_curve.py runs/quickstart-YYYYmmdd-HHMMSS
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redheart.runs.events import read_events  # noqa: E402


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    run_dir = Path(sys.argv[1])
    events = list(read_events(run_dir / "events.jsonl"))
    if not events:
        sys.exit(f"{run_dir}/events.jsonl: no events")
    steps = [e for e in events if e["type"] == "step"]
    losses = [e["loss"]["total"] for e in steps]
    head, tail = losses[:10], losses[-10:]
    print(f"run              {run_dir}")
    print(f"step events      {len(steps)} (steps {steps[0]['step']}..{steps[-1]['step']})")
    print(f"first 10 mean    {sum(head) / len(head):.4f}")
    print(f"last 10 mean     {sum(tail) / len(tail):.4f}  "
          f"({'falls' if sum(tail) / len(tail) < sum(head) / len(head) else 'does not fall'})")
    evals = [e["metrics"]["loss"] for e in events if e["type"] == "eval"]
    if evals:
        print(f"eval loss        first {evals[0]:.4f}, best {min(evals):.4f}, last {evals[-1]:.4f} "
              f"({len(evals)} evaluations)")
    checkpoints = sorted({Path(e["path"]).name for e in events if e["type"] == "checkpoint"})
    last = checkpoints[-1] if checkpoints else "-"
    print(f"checkpoints      {len(checkpoints)} written, last {last}")


if __name__ == "__main__":
    main()
