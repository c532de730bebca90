"""Which panels the console shows at which terminal size, and in which tab order.

From 120x32 the panels share the screen. Below, a long scroll put the loss
under the fold of an 80x24 terminal while training (all a new user saw was
the Modules table), so small terminals show one panel at a time with tabs:
the panels that matter before a run (modules, memory) first until there is
one, the run's own (loss, gradients, throughput) first from then on.
"""

from __future__ import annotations

WIDE = (120, 32)
"""From this terminal size on, the panels share the screen as a grid."""
TITLES = {"modules": "Modules", "memory": "Memory", "loss": "Loss", "gradients": "Gradients",
          "throughput": "Throughput", "run": "Run"}
SETUP_ORDER = ("modules", "memory", "run", "loss", "gradients", "throughput")
RUN_ORDER = ("loss", "gradients", "throughput", "run", "memory", "modules")


def is_wide(width: int, height: int) -> bool:
    return width >= WIDE[0] and height >= WIDE[1]


def tab_order(has_run: bool) -> tuple[str, ...]:
    """Panel ids in tab order; the first is the one shown."""
    return RUN_ORDER if has_run else SETUP_ORDER
