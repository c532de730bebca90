"""The project's own JSONL schema: `text` plus any subset of targets.

This is the format the LLM labeler writes and the embedded sample set uses.
One object per line:

| key | value |
|---|---|
| text | non-empty string (required) |
| emotion | an Ekman name, or {name: weight} (normalised) |
| fine | list of GoEmotions label names (implies emotion when that is absent) |
| sentiment | positive/negative/ambiguous/neutral, or {name: weight}; else derived from emotion |
| cultural | {"jeong", "han", "chemyeon"}, each in [0, 1] |
| bentham | the 7 hedonic-calculus dimensions, each in [0, 1] |
| hedonic_value | number in [-1, 1] |
| regret | number in [0, 1] |
| regret_views | [q10, q50, q90], ascending, in [0, 1] |
| surd | {"redundant", "unique", "synergistic", "leak"}, >= 0, summing to 1 |
| votes | {"AUTHOR", "OTHER", "EVERYBODY", "NOBODY", "INFO"} counts; regret, its |
| | views, hedonic value and SURD are then derived as for Scruples (and may |
| | not also be given) |
| id, why | free metadata, ignored |
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from redheart.data.bad_rows import BadRows
from redheart.data.example import Example, sentiment_of
from redheart.data.sources.json_lines import json_objects
from redheart.data.sources.scruples import check_votes, vote_targets
from redheart.tasks import (
    BENTHAM_DIMS,
    CULTURAL,
    EKMAN,
    EKMAN_OF_FINE,
    FINE_LABELS,
    SENTIMENTS,
    SURD,
)

KEYS = ("text", "emotion", "fine", "sentiment", "cultural", "bentham", "hedonic_value", "regret",
        "regret_views", "surd", "votes", "id", "why")
_FROM_VOTES = ("regret", "regret_views", "hedonic_value", "surd")


class RowProblem(Exception):
    """A field of the current row is invalid; the message names the field."""


def _number(value: Any, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RowProblem(f"{field}: expected a finite number in [{low:g}, {high:g}], got {value!r}")
    if not low <= value <= high:
        raise RowProblem(f"{field}: {value!r} is out of range [{low:g}, {high:g}]")
    return float(value)


def _table(value: Any, field: str, names: tuple[str, ...], low: float,
           high: float) -> tuple[float, ...]:
    if not isinstance(value, dict) or set(value) != set(names):
        raise RowProblem(f"{field}: expected an object with exactly the keys {', '.join(names)}")
    return tuple(_number(value[name], f"{field}.{name}", low, high) for name in names)


def _distribution(value: Any, field: str, names: tuple[str, ...]) -> tuple[float, ...]:
    """A class name, or {name: weight}; returned normalised in `names` order."""
    if isinstance(value, str):
        value = {value: 1.0}
    if not isinstance(value, dict) or not value:
        raise RowProblem(f"{field}: expected one of {', '.join(names)} or an object of weights")
    for name in value:
        if name not in names:
            raise RowProblem(f"{field}: unknown class '{name}'; expected one of {', '.join(names)}")
    weights = {name: _number(value.get(name, 0.0), f"{field}.{name}", 0.0, math.inf)
               for name in names}
    total = sum(weights.values())
    if total <= 0:
        raise RowProblem(f"{field}: weights sum to 0")
    return tuple(weights[name] / total for name in names)


def parse_row(row: Any, where: str) -> Example:
    if not isinstance(row, dict):
        raise RowProblem("expected a JSON object")
    for key in row:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(KEYS)}"
            raise RowProblem(f"unknown key '{key}'{hint}")
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise RowProblem("text: missing or empty")
    found: dict[str, Any] = {}
    if "fine" in row:
        names = row["fine"]
        if not isinstance(names, list) or not names or not all(n in FINE_LABELS for n in names):
            raise RowProblem(f"fine: expected a non-empty list of GoEmotions labels "
                             f"({', '.join(FINE_LABELS)})")
        found["fine"] = tuple(1.0 if name in names else 0.0 for name in FINE_LABELS)
        if "emotion" not in row:
            found["emotion"] = _distribution({EKMAN_OF_FINE[n]: 1.0 for n in names}, "fine",
                                             EKMAN)
    if "emotion" in row:
        found["emotion"] = _distribution(row["emotion"], "emotion", EKMAN)
    if "sentiment" in row:
        found["sentiment"] = _distribution(row["sentiment"], "sentiment", SENTIMENTS)
    elif "emotion" in found:
        found["sentiment"] = sentiment_of(found["emotion"])
    if "cultural" in row:
        found["cultural"] = _table(row["cultural"], "cultural", CULTURAL, 0.0, 1.0)
    if "bentham" in row:
        found["bentham"] = _table(row["bentham"], "bentham", BENTHAM_DIMS, 0.0, 1.0)
    if "votes" in row:
        given = [key for key in _FROM_VOTES if key in row]
        if given:
            raise RowProblem(f"{given[0]}: give either votes or explicit regret/hedonic/SURD "
                             f"targets, not both")
        problem = check_votes(row["votes"])
        if problem:
            raise RowProblem(f"votes: {problem}")
        found.update(vote_targets(row["votes"]))
    if "hedonic_value" in row:
        found["hedonic"] = _number(row["hedonic_value"], "hedonic_value", -1.0, 1.0)
    if "regret" in row:
        found["regret"] = _number(row["regret"], "regret", 0.0, 1.0)
    if "regret_views" in row:
        views = row["regret_views"]
        if not isinstance(views, list) or len(views) != 3:
            raise RowProblem("regret_views: expected [q10, q50, q90]")
        values = tuple(_number(v, "regret_views", 0.0, 1.0) for v in views)
        if not values[0] <= values[1] <= values[2]:
            raise RowProblem(f"regret_views: {list(values)} must be ascending")
        found["regret_views"] = values
    if "surd" in row:
        shares = _table(row["surd"], "surd", SURD, 0.0, 1.0)
        if abs(sum(shares) - 1.0) > 1e-3:
            raise RowProblem(f"surd: components sum to {sum(shares):.4f}, expected 1")
        found["surd"] = shares
    return Example(text=text.strip(), origin=where, **found)


def read(path: Path, bad: BadRows) -> Iterator[Example]:
    for where, row in json_objects(path, bad):
        try:
            yield parse_row(row, where)
        except RowProblem as exc:
            bad.reject(where, str(exc))
