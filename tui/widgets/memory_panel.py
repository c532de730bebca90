"""Memory: the forecast stacked by category against live usage and the budget."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from redheart.units import MIB, gib_text
from tui.run_view import RunView
from tui.widgets.curve import Curve
from tui.widgets.text import set_text

COLORS = {"weights": "blue", "gradients": "cyan", "optimizer": "magenta",
          "optimizer_step": "bright_magenta", "autocast_cache": "yellow",
          "activations": "green", "context": "white"}
SHORT = {"weights": "weights", "gradients": "grads", "optimizer": "optim",
         "optimizer_step": "step", "autocast_cache": "cast", "activations": "activ",
         "context": "ctx"}
BAR = 40
NO_RUN = "no run: live usage appears when training starts"


def forecast_bar(plan: dict[str, Any]) -> Text:
    """A bar scaled to max(budget, forecast): one colour per category, a red `|` at the
    budget."""
    totals = plan["forecast"]
    budget = plan.get("budget_bytes")
    scale = max(budget or 0, sum(v for k, v in totals.items() if k != "total"), 1)
    cells: list[tuple[str, str]] = []
    for category, color in COLORS.items():
        cells += [("█", color)] * round(BAR * totals.get(category, 0) / scale)
    cells = (cells + [(" ", "")] * BAR)[:BAR]
    if budget:
        cells[min(BAR - 1, round(BAR * budget / scale))] = ("|", "bold red")
    text = Text()
    for char, style in cells:
        text.append(char, style=style)
    return text


def forecast_legend(plan: dict[str, Any], width: int) -> Text:
    """`MiB  ■ weights 1,234  ■ grads 1,234 ...`, broken only between entries.

    Rich wraps at any space, which split an entry from its figure ("■ optim" at the end
    of a line, "2,468" at the start of the next) at 160 columns.
    """
    entries = [(color, f"{SHORT[category]} {plan['forecast'].get(category, 0) / MIB:,.0f}")
               for category, color in COLORS.items()]
    legend = Text("MiB")
    column = len("MiB")
    for color, entry in entries:
        size = len("■ ") + len(entry)
        if width and column + 2 + size > width:
            legend.append("\n")
            column = 0
        else:
            legend.append("  ")
            column += 2
        legend.append("■ ", style=color)
        legend.append(entry)
        column += size
    if plan.get("savers"):
        legend.append(f"\nsavers: {', '.join(plan['savers'])}")
    return legend


class MemoryPanel(Vertical):
    BORDER_TITLE = "Memory"

    def compose(self) -> ComposeResult:
        yield Static("no forecast yet", id="memory-forecast")
        yield Static("", id="memory-legend")
        yield Static(NO_RUN, id="memory-live")
        yield Curve(id="memory-history")

    def show_plan(self, plan: dict[str, Any]) -> None:
        totals = plan["forecast"]
        budget = plan.get("budget_bytes")
        verdict = "" if plan.get("fits") is None else (
            "  fits" if plan["fits"] else "  DOES NOT FIT")
        header = Text(f"forecast {gib_text(totals['total'])} peak ({plan['device']})  budget "
                      f"{gib_text(budget) if budget else 'none'}{verdict}\n")
        header.append_text(forecast_bar(plan))
        self.query_one("#memory-forecast", Static).update(header)
        self._plan = plan
        self._show_legend()

    def on_resize(self) -> None:
        self._show_legend()

    def _show_legend(self) -> None:
        plan = getattr(self, "_plan", None)
        if plan is not None:
            legend = forecast_legend(plan, self.content_size.width)
            self.query_one("#memory-legend", Static).update(legend)

    def reset(self) -> None:
        """Another run is about to be shown: no live usage until its first memory event."""
        set_text(self.query_one("#memory-live", Static), NO_RUN)
        self.query_one("#memory-history", Curve).data = ()

    def show_live(self, view: RunView) -> None:
        memory = view.memory
        if memory is None:
            return
        lines = []
        torch_mem = memory.get("torch")
        if torch_mem:
            lines.append(f"torch allocated {gib_text(torch_mem.get('allocated'))}  reserved "
                         f"{gib_text(torch_mem.get('reserved'))}  "
                         f"peak {gib_text(torch_mem.get('peak'))}")
        for gpu in memory.get("gpus") or []:
            lines.append(f"GPU{gpu.get('index')} {gpu.get('name', '')}: "
                         f"{gib_text(gpu.get('used'))} / {gib_text(gpu.get('total'))}  "
                         f"util {gpu.get('util', '-')}%  {gpu.get('temp', '-')}C  "
                         f"{gpu.get('power', '-')} W")
        if not memory.get("gpus"):
            lines.append(str(memory.get("gpu_state") or "no NVIDIA GPU"))
        lines.append(f"process RSS {gib_text(memory.get('rss'))}")
        set_text(self.query_one("#memory-live", Static), "\n".join(lines))
        self.query_one("#memory-history", Curve).data = tuple(view.memory_history)
