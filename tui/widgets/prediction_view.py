"""One `redheart predict --json` answer, laid out for reading.

Distributions become bars (largest first), scalars become figures with their
range, and every output says when it should not be trusted as a trained
prediction: "untrained" (its task saw no rows) or "head only" (its analyzer was
off at inference). The numbers are the JSON's own; nothing is derived here
except their order and the bar lengths.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from redheart.inference.results import HEAD_LEVEL_OUTPUTS
from redheart.tasks import REGRET_VIEWS
from tui.widgets.bars import MISSING, Bars, titled

HALF = 15
"""Cells on each side of zero in the hedonic value's bar."""


def mark(output: dict[str, Any] | None, name: str) -> str:
    """What a reader must know before trusting an output: untrained, or head only because
    its analyzer was left out (sentiment, fine labels and cultural dimensions always come
    from the emotion head, so "head" is no warning for them)."""
    if not output:
        return ""
    notes = []
    if output.get("trained") is False:
        notes.append("untrained")
    if output.get("source") == "head" and name not in HEAD_LEVEL_OUTPUTS:
        notes.append("head only")
    return " · ".join(notes)


def signed_bar(value: float) -> Text:
    """A bar from the centre: left for negative, right for positive, in (-1, 1)."""
    cells = round(min(1.0, abs(value)) * HALF)
    negative, positive = (cells, 0) if value < 0 else (0, cells)
    text = Text("-1 ")
    text.append(" " * (HALF - negative))
    text.append("█" * negative, style="red")
    text.append("│")
    text.append("█" * positive, style="green")
    text.append(" " * (HALF - positive))
    text.append(" +1")
    return text


def section(title: str, name: str, output: dict[str, Any] | None,
            body: Callable[[dict[str, Any]], Text]) -> Text:
    """Title, marks, then the body of a present output (or the line saying it is absent)."""
    text = titled(title, mark(output, name))
    if not output:
        return text.append(MISSING, style="dim")
    return text.append_text(body(output))


def summary(result: dict[str, Any]) -> Text:
    model = result.get("model") or {}
    text = Text(f"{result.get('text', '')!r}\n", style="italic")
    text.append(f"{result.get('tokens', '?')} tokens")
    if result.get("truncated"):
        text.append("  TRUNCATED: the text was cut to the model's max_tokens",
                    style="bold yellow")
    text.append(f"    model: step {model.get('step', '?')}  {model.get('path', '')}",
                style="dim")
    if model.get("disabled"):
        text.append(f"\ndisabled at inference: {', '.join(model['disabled'])}", style="dim")
    return text


FINE_SHOWN = 8
"""Fine labels listed: the most probable of those over the threshold."""


def fine_labels(output: dict[str, Any]) -> Text:
    values = output.get("value") or {}
    above = sorted(output.get("above_threshold") or [], key=lambda k: -values.get(k, 0.0))
    if above:
        text = Text("\n" + "  ".join(f"{label} {values.get(label, 0.0) * 100:.1f}%"
                                     for label in above[:FINE_SHOWN]))
        if len(above) > FINE_SHOWN:
            text.append(f"  (+{len(above) - FINE_SHOWN} more)", style="dim")
        return text
    top = max(values.items(), key=lambda item: item[1], default=None)
    return Text("\nnone" + (f"  (highest: {top[0]} {top[1] * 100:.1f}%)" if top else ""),
                style="dim")


def hedonic(output: dict[str, Any]) -> Text:
    value = float(output["value"])
    text = Text(f"\n{value:+.2f}  ")
    text.append_text(signed_bar(value))
    return text


def regret_figure(output: dict[str, Any]) -> Text:
    text = Text(f"\n{output['value']:.2f}  (0 none .. 1 strong)")
    if output.get("wrong") is not None:
        verdict = "in the wrong" if output["wrong"] else "not in the wrong"
        text.append(f"\n→ {verdict}", style="bold")
        text.append(f" (threshold {output['threshold']:.2f}, fitted in training)", style="dim")
    return text


def regret_text(regret: dict[str, Any] | None, views: dict[str, Any] | None) -> Text:
    text = section("Regret", "regret", regret, regret_figure)
    if views:
        names = views.get("value") or {}
        text.append("\n" + "  ".join(f"{name} {names[name]:.2f}" for name in REGRET_VIEWS
                                     if name in names))
        if mark(views, "regret_views") != mark(regret, "regret"):
            text.append(f"  {mark(views, 'regret_views')}", style="yellow")
    return text


class PredictionView(VerticalScroll):
    """The last answer; `show` replaces it. Hidden until there is one, so no empty
    section reads as a missing output."""

    def on_mount(self) -> None:
        self.display = False

    def compose(self) -> ComposeResult:
        yield Static("", id="try-summary")
        with Horizontal(classes="try-row"):
            yield Bars("Emotion (Ekman)", id="try-emotion")
            yield Bars("Sentiment", id="try-sentiment")
        yield Static("", id="try-fine", classes="try-block")
        with Horizontal(classes="try-row"):
            with Vertical():
                yield Static("", id="try-regret", classes="try-block")
                yield Static("", id="try-hedonic", classes="try-block")
            yield Bars("Cultural", percent=False, ranked=False, id="try-cultural")
        with Horizontal(classes="try-row"):
            yield Bars("SURD shares", id="try-surd")
            yield Bars("Bentham dimensions", percent=False, ranked=False, id="try-bentham")

    def show(self, result: dict[str, Any]) -> None:
        outputs: dict[str, Any] = result.get("outputs") or {}
        self.display = True
        self.query_one("#try-summary", Static).update(summary(result))
        for name, widget_id in (("emotion", "#try-emotion"), ("sentiment", "#try-sentiment"),
                                ("surd", "#try-surd"), ("bentham_dims", "#try-bentham"),
                                ("cultural", "#try-cultural")):
            bars = self.query_one(widget_id, Bars)
            output = outputs.get(name)
            bars.note = mark(output, name)
            bars.values = dict(output.get("value") or {}) if output else {}
        self.query_one("#try-fine", Static).update(
            section("Fine labels above threshold", "fine", outputs.get("fine"), fine_labels))
        self.query_one("#try-regret", Static).update(
            regret_text(outputs.get("regret"), outputs.get("regret_views")))
        self.query_one("#try-hedonic", Static).update(
            section("Hedonic value", "hedonic_value", outputs.get("hedonic_value"), hedonic))
