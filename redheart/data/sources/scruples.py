"""Scruples anecdotes and dilemmas (Lourie, Le Bras and Choi, AAAI 2021), JSONL."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from redheart.data import targets
from redheart.data.bad_rows import BadRows
from redheart.data.example import DilemmaPair, Example
from redheart.data.sources.json_lines import json_objects


def check_votes(votes: Any) -> str | None:
    """Why a vote table is unusable, or None."""
    if not isinstance(votes, dict):
        return "expected an object of vote counts"
    for label in targets.VOTE_LABELS:
        count = votes.get(label)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            return f"{label} must be a non-negative integer count, got {count!r}"
    extra = set(votes) - set(targets.VOTE_LABELS)
    if extra:
        return f"unknown vote label '{sorted(extra)[0]}'; expected {', '.join(targets.VOTE_LABELS)}"
    right, wrong = targets.right_wrong(votes)
    if right + wrong == 0:
        return "no AUTHOR, OTHER, EVERYBODY or NOBODY votes: regret is undefined"
    return None


def vote_targets(votes: dict[str, int]) -> dict[str, Any]:
    """Regret, its views, hedonic value and SURD shares of one vote table."""
    return dict(_vote_targets(tuple(votes[label] for label in targets.VOTE_LABELS)))


@functools.lru_cache(maxsize=65536)
def _vote_targets(counts: tuple[int, ...]) -> tuple[tuple[str, Any], ...]:
    """Cached by the vote counts: many anecdotes share a table, and SURD is not free."""
    votes = dict(zip(targets.VOTE_LABELS, counts, strict=True))
    right, wrong = targets.right_wrong(votes)
    return (("regret", targets.regret(right, wrong)),
            ("regret_views", targets.regret_views(right, wrong)),
            ("hedonic", targets.hedonic_value(right, wrong)),
            ("surd", targets.surd_target(votes)))


def read_anecdotes(path: Path, bad: BadRows) -> Iterator[Example]:
    for where, row in json_objects(path, bad):
        title, text = row.get("title"), row.get("text")
        if not isinstance(title, str) or not isinstance(text, str):
            bad.reject(where, "title, text: expected strings")
            continue
        body = f"{title.strip()}\n{text.strip()}".strip()
        if not body:
            bad.reject(where, "title, text: both empty")
            continue
        problem = check_votes(row.get("label_scores"))
        if problem:
            bad.reject(where, f"label_scores: {problem}")
            continue
        votes = row["label_scores"]
        yield Example(text=body, origin=where, votes=sum(votes.values()), **vote_targets(votes))


def read_dilemmas(path: Path, bad: BadRows) -> Iterator[DilemmaPair]:
    for where, row in json_objects(path, bad):
        actions, counts = row.get("actions"), row.get("gold_annotations")
        if (not isinstance(actions, list) or len(actions) != 2
                or not all(isinstance(a, dict) and isinstance(a.get("description"), str)
                           and a["description"].strip() for a in actions)):
            bad.reject(where, "actions: expected two objects with a non-empty description")
            continue
        if (not isinstance(counts, list) or len(counts) != 2
                or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0
                           for c in counts) or counts[0] == counts[1]):
            bad.reject(where, "gold_annotations: expected two different non-negative counts")
            continue
        yield DilemmaPair(first=actions[0]["description"].strip(),
                          second=actions[1]["description"].strip(),
                          less_ethical=int(counts[1] > counts[0]),
                          annotations=(counts[0], counts[1]), origin=where)
