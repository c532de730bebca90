"""How long the memory forecast takes after a module toggle (the console's case), and what
a plan that tries every saver costs.

    .venv/bin/python bench/plan_speed.py [PROFILE]

Prints the cold forecast (meta dry run of FORWARD + COMPUTE for a regular and,
when the profile has dilemma pairs, a pair batch), and a toggle after
`prefetch_toggles` has run in the background, as the console does. Then
`redheart plan` for a 1 GiB card, which nothing fits, so every saver is
tried: the dry runs it asked for, how many ran, and how many were the same
inputs again (the optimizer savers change no saved tensor), with its CPU time.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redheart.config_load import load_profile  # noqa: E402
from redheart.memory import dry_run  # noqa: E402
from redheart.memory.forecast import _forecast, forecast, prefetch_toggles, toggled  # noqa: E402
from redheart.memory.selector import Budget, plan  # noqa: E402
from redheart.model.catalog import OPTIONAL_MODULES  # noqa: E402
from redheart.units import GIB  # noqa: E402


def main() -> None:
    profile = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "profiles" / "local-8gb.toml"
    config = load_profile(profile)
    forecast(config, "cuda")                      # imports and first-call set-up
    cold, warm = [], []
    for module in OPTIONAL_MODULES:
        other = toggled(config, module)
        if other is None:
            continue
        _forecast.cache_clear()
        dry_run._measured.cache_clear()
        dry_run.meta_model.cache_clear()
        start = time.perf_counter()
        forecast(other, "cuda")
        cold.append(time.perf_counter() - start)
        _forecast.cache_clear()
        prefetch_toggles(config, "cuda")
        start = time.perf_counter()
        forecast(other, "cuda")
        warm.append(time.perf_counter() - start)
    print(f"{profile.name}: {len(cold)} single-module toggles")
    print(f"cold forecast after a toggle: median {1000 * statistics.median(cold):.0f} ms, "
          f"max {1000 * max(cold):.0f} ms")
    print(f"after prefetch_toggles:       median {1000 * statistics.median(warm):.2f} ms, "
          f"max {1000 * max(warm):.2f} ms")
    _forecast.cache_clear()
    dry_run._measured.cache_clear()
    start = time.process_time()
    plan(config, "cuda", Budget(GIB, "bench"))
    seconds = time.process_time() - start
    info = dry_run._measured.cache_info()
    print(f"plan for a 1 GiB card (every saver tried): {info.hits + info.misses} dry runs "
          f"asked for, {info.misses} run, {info.hits} the same inputs again; "
          f"{seconds:.1f} s CPU")


if __name__ == "__main__":
    main()
