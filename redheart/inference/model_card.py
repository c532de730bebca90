"""MODEL_CARD.md of an export: what the model learned from, how good it is, what not to trust.

Written from the run's own records (its config, the trained-row counts in
the checkpoint, and a `validate --json` output when given), never from
hand-kept text, so the card cannot drift from the weights beside it.
"""

from __future__ import annotations

from typing import Any

from redheart.config import longest_budget, token_budget
from redheart.inference.model_source import ModelSource
from redheart.inference.results import FINE_THRESHOLD, OUTPUT_LABELS
from redheart.render.validate_table import row_decimals
from redheart.train.trained_rows import TARGETS, output_trained


def model_card(source: ModelSource, meta: dict[str, Any],
               validation: dict[str, Any] | None) -> str:
    config = source.config
    lines = [f"# Red Heart model: {config.run.name}, step {source.step}", "",
             f"- exported from `{source.folder}` (config hash `{source.config_hash}`), "
             f"weights in {meta['dtype']}",
             f"- modules: {', '.join(source.modules) or 'not recorded'}",
             f"- encoder: {config.data.encoder}"
             + (" (fine-tuned; its weights are in encoder.safetensors)"
                if meta["encoder"]["fine_tuned"] else " (frozen)")
             + f"; predict reads {longest_budget(config.data).label()} per text", "",
             "## Training data", "", "| source | path | split | weight | tokens |",
             "|---|---|---|---|---|"]
    lines += [f"| {s.kind} | `{s.path}` | {s.split} | {s.weight:g} | "
              f"{token_budget(config.data, s).label()} |" for s in config.data.sources]
    lines += ["", "Labelled rows that trained each target, counted over the run (a row "
              "seen in two epochs counts twice):", "", "| target | rows |", "|---|---|"]
    rows = source.trained_rows
    lines += [f"| {t} | {'not recorded' if rows is None else rows.get(t, 0)} |"
              for t in TARGETS]
    lines += ["", "## Outputs", "", "| output | trained |", "|---|---|"]
    for name in OUTPUT_LABELS:
        trained = output_trained(rows, name)
        lines.append(f"| {name} | {_trained_text(trained)} |")
    lines += ["", "Outputs no labelled row trained are hidden by `redheart predict` (`--all` "
              "shows them, marked untrained): their numbers carry no learned signal. "
              f"A fine label counts as predicted from probability {FINE_THRESHOLD} on."]
    lines += ["", "## Validation", ""] + (_validation(validation) if validation else [
        "No `validate` results were given: export with `--metrics` and the output of "
        "`redheart validate CHECKPOINT --json` to include them."])
    lines += ["", "## Use", "", "```",
              "redheart predict THIS_FOLDER \"I told my friend the truth.\"",
              "python -c 'import redheart; print(redheart.load(\"THIS_FOLDER\")"
              ".predict([\"...\"]))'", "```", ""]
    return "\n".join(lines)


def _trained_text(trained: bool | None) -> str:
    return {True: "yes", False: "no (untrained)", None: "not recorded"}[trained]


def _validation(result: dict[str, Any]) -> list[str]:
    """Each metric of `validate --json`, the model next to its baselines."""
    baselines, intervals = result.get("baselines", {}), result.get("intervals", {})
    lines = ["| task | metric | model | prior | probe |", "|---|---|---|---|---|"]
    for task, metrics in result["metrics"].items():
        for metric, value in metrics.items():
            if not isinstance(value, (int, float)) or metric == "count":
                continue
            row = [value] + [baselines.get(kind, {}).get(task, {}).get(metric)
                             for kind in ("prior", "probe")]
            bounds = [b for kind in ("model", "prior", "probe")
                      for b in intervals.get(kind, {}).get(task, {}).get(metric) or ()]
            # the values and their interval bounds, as validate picks the row's decimals
            decimals = row_decimals([v for v in row + bounds if isinstance(v, (int, float))])
            cells = [_number(v, decimals) for v in row]
            lines.append(f"| {task} | {metric} | {' | '.join(cells)} |")
    return lines


def _number(value: Any, decimals: int) -> str:
    """As `validate` prints it: SURD MSE (~0.01) keeps the digits that tell runs apart."""
    return f"{value:.{decimals}f}" if isinstance(value, (int, float)) else "–"
