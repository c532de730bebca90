"""How often the console's Gradients panel cries wolf on a real run.

    .venv/bin/python bench/grad_jumps.py RUN_DIR [RUN_DIR ...]

Replays each run's step events through the panel's jump detector twice: with
each step's kind of batch (the tasks its losses name), as the console does,
and as one stream, the median over every step whatever its batch. Prints, for
each, on how many steps the panel is red (a jump in view) and how many jumps
it marked, then the jumps the console marks now (module, step, ratio, kind), and
each module's median norm on each kind of batch: why one median cannot serve all.
"""

from __future__ import annotations

import statistics
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redheart.runs.events import read_events  # noqa: E402
from tui.grad_norms import GradNorms, batch_kind  # noqa: E402


def replay(events: list[dict], by_kind: bool) -> tuple[int, int, list[tuple]]:
    """(steps red, jumps marked, the jumps as (module, step, ratio, kind))."""
    norms, red, marked = GradNorms(), 0, {}
    for event in events:
        norms.add(event["step"], event.get("grad_norm_by_module") or {},
                  kind=batch_kind(event) if by_kind else ())
        red += bool(norms.jumping)
        for name, (step, ratio) in norms._jumps.items():
            marked.setdefault((name, step), (name, step, ratio, kind_of(event)))
    return red, len(marked), sorted(marked.values(), key=lambda jump: jump[1])


def kind_of(event: dict) -> str:
    """The console's kind of batch, as a label."""
    return "+".join(sorted(batch_kind(event)))


def medians_by_kind(events: list[dict]) -> dict[str, dict[str, float]]:
    """module -> {kind of batch: median norm}."""
    norms: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for event in events:
        for name, value in (event.get("grad_norm_by_module") or {}).items():
            if isinstance(value, (int, float)):
                norms[name][kind_of(event)].append(value)
    return {name: {kind: statistics.median(values) for kind, values in kinds.items()}
            for name, kinds in norms.items()}


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
        print("  median |g| by kind of batch:")
        for name, kinds in medians_by_kind(steps).items():
            print(f"    {name:<20} " + "  ".join(f"{kind} {value:.3g}"
                                                  for kind, value in sorted(kinds.items())))


if __name__ == "__main__":
    main(sys.argv[1:] or sys.exit(__doc__))
