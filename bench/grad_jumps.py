"""How often the console's Gradients panel cries wolf on a real run.

    .venv/bin/python bench/grad_jumps.py RUN_DIR [RUN_DIR ...]

Replays each run's step events through the panel's jump detector twice: with
each step's kind of batch (the tasks its losses name), as the console does,
and as one stream, the median over every step whatever its batch. Prints, for
each, on how many steps the panel is red (a jump in view) and how many jumps
it marked, then the jumps the console marks now (module, step, ratio, kind).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redheart.runs.events import read_events  # noqa: E402
from tui.grad_norms import GradNorms  # noqa: E402


def replay(events: list[dict], by_kind: bool) -> tuple[int, int, list[tuple]]:
    """(steps red, jumps marked, the jumps as (module, step, ratio, kind))."""
    norms, red, marked = GradNorms(), 0, {}
    for event in events:
        kind = sorted(name for name in event.get("loss") or {} if name != "total")
        norms.add(event["step"], event.get("grad_norm_by_module") or {},
                  kind=kind if by_kind else ())
        red += bool(norms.jumping)
        for name, (step, ratio) in norms._jumps.items():
            marked.setdefault((name, step), (name, step, ratio, "+".join(kind)))
    return red, len(marked), sorted(marked.values(), key=lambda jump: jump[1])


def main(runs: list[str]) -> None:
    for run in runs:
        steps = [e for e in read_events(Path(run) / "events.jsonl") if e["type"] == "step"]
        red, marked, jumps = replay(steps, by_kind=True)
        red_one, marked_one, _ = replay(steps, by_kind=False)
        print(f"{run}: {len(steps)} step events")
        print(f"  median by kind of batch (the console): red on {red} steps, "
              f"{marked} jumps marked")
        print(f"  median over every step:                 red on {red_one} steps, "
              f"{marked_one} jumps marked")
        for name, step, ratio, kind in jumps:
            print(f"    {name} at step {step}: {ratio:.0f}x its median ({kind} batches)")


if __name__ == "__main__":
    main(sys.argv[1:] or sys.exit(__doc__))
