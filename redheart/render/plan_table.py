"""Rich rendering of `redheart plan`: module x category, the savers, the verdict."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from redheart.memory.forecast import CATEGORIES
from redheart.render.stdout_console import stdout_console
from redheart.units import MIB

SHORT = {"weights": "wts", "gradients": "grads", "optimizer": "optim",
         "optimizer_step": "step", "autocast_cache": "cast", "activations": "activ",
         "context": "ctx"}
"""Headers short enough for an 80-column terminal; the legend below spells them out."""


def _mib(value: int | None) -> str:
    return "-" if not value else f"{value / MIB:.0f}"


def print_plan(plan: dict[str, Any], title: str, console: Console | None = None) -> None:
    """`plan` is `Plan.as_json()`; all figures in MiB."""
    console = console or stdout_console()
    totals = plan["forecast"]
    ranks = plan.get("ranks", 1)
    per_rank = f", per rank of {ranks} ({plan['strategy']})" if ranks > 1 else ""
    table = Table(title=f"{title}: forecast in MiB ({plan['device']}{per_rank}, micro-batch "
                        f"{plan['micro_batch']} x {plan['accumulation_steps']})",
                  show_footer=True, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0))
    table.add_column(f"module ({plan['total_params'] / 1e6:,.1f}M params)", footer="total",
                     no_wrap=True)
    per_module = [c for c in CATEGORIES if c != "context"]
    for category in per_module:
        table.add_column(SHORT[category], justify="right", footer=_mib(totals[category]),
                         min_width=6)
    table.add_column("sum", justify="right", footer=_mib(totals["total"]), min_width=6)
    for row in plan["modules"]:
        values = [row["forecast"].get(c, 0) for c in per_module]
        name = row["name"] + ("" if row["enabled"] else " (off)")
        table.add_row(name, *(_mib(v) for v in values), _mib(sum(values)),
                      style=None if row["enabled"] else "dim")
    table.add_row("CUDA context", *([""] * len(per_module)),
                  _mib(totals["context"]))
    if totals.get("fsdp_gather"):
        table.add_row("FSDP2 gathered units", *([""] * len(per_module)),
                      _mib(totals["fsdp_gather"]))
    console.print(table)
    console.print("wts weights, grads gradients, optim AdamW state, step optimizer-step "
                  "temporary, cast autocast weight copies, activ activations")
    peak = plan.get("backward_peak")        # absent from plans recorded before it was
    backward = "backward" if peak is None else f"backward {_mib(peak)}"
    console.print(f"total = peak = wts + optim + CUDA context"
                  f"{' + FSDP2 gathered' if totals.get('fsdp_gather') else ''} + max({backward}"
                  f", grads + step): backward "
                  f"frees each module's activ + cast as its grads appear, and holds at most "
                  f"that at once; the optimizer step comes after it")
    if totals.get("fsdp_gather"):
        console.print("FSDP2: wts, grads, optim and step are this rank's 1/N shards; the "
                      "gathered units (one computing, one prefetched, its unsharded grads) "
                      "add to the peak")
    for step in plan["saver_steps"]:
        after = f" -> {_mib(step['total_after'])} MiB" if step["total_after"] else ""
        detail = f" ({step['detail']})" if step["detail"] else ""
        console.print(f"  saver {step['name']}: {step['status']}{detail}{after}")
    budget = plan["budget_bytes"]
    if budget is None:
        console.print(f"no budget: {plan['budget_source']}")
        return
    verdict = "fits" if plan["fits"] else "does NOT fit"
    console.print(f"forecast {_mib(totals['total'])} MiB (before savers "
                  f"{_mib(plan['forecast_before']['total'])}) {verdict} the budget "
                  f"{_mib(budget)} MiB ({plan['budget_source']})")
