"""`redheart predict` for people: one block per text, the strongest signals first.

Rich draws bars on a terminal; piped or redirected, the same block is plain
text (Rich drops colour and keeps the characters).
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from redheart.inference.results import HEAD_LEVEL_OUTPUTS, Output, Prediction

BAR_WIDTH = 20
FINE_SHOWN = 5
"""Fine labels listed per text: the most probable of those over the threshold."""


def _bar(share: float) -> str:
    filled = round(max(0.0, min(1.0, share)) * BAR_WIDTH)
    return "█" * filled + "·" * (BAR_WIDTH - filled)


def _mark(output: Output, name: str) -> str:
    """Flags a reader needs: never trained, or predicted without its (left out) analyzer."""
    marks = []
    if output.trained is False:
        marks.append("untrained")
    if output.source == "head" and name not in HEAD_LEVEL_OUTPUTS:
        marks.append("head only")
    return f"  ({', '.join(marks)})" if marks else ""


def _shares(value: dict[str, float], top: int | None = None) -> str:
    ranked = sorted(value.items(), key=lambda item: -item[1])[:top]
    return "  ".join(f"{name} {share:.2f}" for name, share in ranked)


def prediction_block(prediction: Prediction) -> Group:
    """The block of one text: its Ekman bars, then one line per other output."""
    outs = prediction.outputs
    title = Text(prediction.text if len(prediction.text) <= 100
                 else prediction.text[:97] + "...", style="bold")
    title.append(f"  {prediction.tokens} tokens", style="dim")
    if prediction.truncated:
        title.append("  truncated: the model read only part of it (max_tokens)", style="yellow")
    rows = Table.grid(padding=(0, 2))
    rows.add_column(style="cyan", no_wrap=True)
    rows.add_column()

    def add(name: str, caption: str, text: str) -> None:
        if name in outs:
            rows.add_row(caption + _mark(outs[name], name), text)

    if "emotion" in outs:
        ranked = sorted(outs["emotion"].value.items(), key=lambda item: -item[1])
        for index, (name, share) in enumerate(ranked):
            caption = "emotion" + _mark(outs["emotion"], "emotion") if index == 0 else ""
            rows.add_row(caption, f"{name:<9} {_bar(share)} {share:6.1%}")
    if "sentiment" in outs:
        add("sentiment", "sentiment", _shares(outs["sentiment"].value, 2))
    if "fine" in outs:
        fine = outs["fine"]
        above = fine.above_threshold or ()
        text = ", ".join(f"{n} {fine.value[n]:.2f}" for n in above[:FINE_SHOWN])
        if len(above) > FINE_SHOWN:
            text += f" (+{len(above) - FINE_SHOWN} more)"
        add("fine", "fine labels", text or "none above 0.30")
    if "regret" in outs:
        text = f"{outs['regret'].value:.2f}"
        if "regret_views" in outs:
            views = outs["regret_views"].value
            text += "  (" + " · ".join(f"{k} {v:.2f}" for k, v in views.items()) + ")"
        regret = outs["regret"]
        if regret.wrong is not None:
            verdict = "in the wrong" if regret.wrong else "not in the wrong"
            text += f"  → {verdict} (threshold {regret.threshold:.2f})"
        add("regret", "regret", text)
    if "hedonic_value" in outs:
        add("hedonic_value", "hedonic value",
            f"{outs['hedonic_value'].value:+.2f}  (-1 harmful … +1 beneficial)")
    for name in ("bentham_dims", "cultural", "surd"):
        if name in outs:
            add(name, "SURD" if name == "surd" else name.replace("_", " "),
                _shares(outs[name].value))
    return Group(title, rows, Text(""))


def hidden_note(hidden: list[str]) -> str | None:
    if not hidden:
        return None
    return (f"not shown: {', '.join(hidden)} (no labelled row trained them; --all shows them "
            f"marked untrained)")


def print_predictions(predictions: list[Prediction], console: Console) -> None:
    for prediction in predictions:
        console.print(prediction_block(prediction))
