"""How long the memory forecast takes after a module toggle (the console's case).

    .venv/bin/python bench/plan_speed.py [PROFILE]

Prints the cold forecast (meta dry run of FORWARD + COMPUTE for a regular and,
when the profile has dilemma pairs, a pair batch), and a toggle after
`prefetch_toggles` has run in the background, as the console does.
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
from redheart.model.catalog import OPTIONAL_MODULES  # noqa: E402


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


if __name__ == "__main__":
    main()
