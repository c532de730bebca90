"""GoEmotions TSV: `text<TAB>comma-separated label ids<TAB>comment id`.

Label ids index `emotions.txt`; the Ekman grouping comes from
`ekman_mapping.json`. Both are read from next to the TSV (as published) or
from the paths a source gives, and checked against the model's fixed
taxonomy, so a re-ordered or foreign label file cannot silently scramble
the targets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from redheart.data.bad_rows import BadRows, DataError
from redheart.data.download.hint import missing_hint
from redheart.data.example import Example, sentiment_of
from redheart.data.sources.json_lines import text_lines
from redheart.tasks import EKMAN, EKMAN_OF_FINE, FINE_LABELS


def _text(path: Path) -> str:
    """A label file's text; one not in UTF-8 is named with its line, not a traceback."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DataError(f"{path}: not UTF-8 (byte 0x{raw[exc.start]:02x} at line {line}); "
                        f"save the file as UTF-8") from None


def read_label_names(tsv: Path, path: Path | None = None) -> list[str]:
    path = path or tsv.parent / "emotions.txt"
    if not path.is_file():
        raise DataError(f"{path}: not found; GoEmotions needs emotions.txt next to {tsv.name} "
                        f"or named by the source's `labels`{missing_hint(path)}")
    names = [line.strip() for line in _text(path).splitlines() if line.strip()]
    for number, name in enumerate(names, start=1):
        if name not in FINE_LABELS:
            raise DataError(f"{path}:{number}: unknown GoEmotions label '{name}'")
    return names


def check_ekman_mapping(tsv: Path, path: Path | None = None) -> None:
    """The published grouping must agree with the one the model is built on."""
    path = path or tsv.parent / "ekman_mapping.json"
    if not path.is_file():
        raise DataError(f"{path}: not found; GoEmotions needs ekman_mapping.json next to "
                        f"{tsv.name} or named by the source's `ekman_mapping`"
                        f"{missing_hint(path)}")
    try:
        groups = json.loads(_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(groups, dict):
        raise DataError(f"{path}: expected an object of Ekman class: [GoEmotions labels]")
    for ekman, members in groups.items():
        if not isinstance(members, list):
            raise DataError(f"{path}: '{ekman}' must list GoEmotions labels, got {members!r}")
        for member in members:
            if member not in EKMAN_OF_FINE:
                raise DataError(f"{path}: {member!r} is not a GoEmotions label")
            if EKMAN_OF_FINE[member] != ekman:
                raise DataError(f"{path}: '{member}' is grouped under '{ekman}', but the "
                                f"model's taxonomy puts it under '{EKMAN_OF_FINE.get(member)}'")


def read(path: Path, bad: BadRows, labels: Path | None = None,
         ekman_mapping: Path | None = None) -> Iterator[Example]:
    names = read_label_names(path, labels)
    check_ekman_mapping(path, ekman_mapping)
    fine_index = {name: FINE_LABELS.index(name) for name in names}
    for where, line in text_lines(path, bad):
        parts = line.split("\t")
        if len(parts) != 3:
            bad.reject(where, f"expected 3 tab-separated columns (text, label ids, id), "
                              f"got {len(parts)}")
            continue
        text, ids_text, _ = parts
        if not text.strip():
            bad.reject(where, "text: empty")
            continue
        try:
            ids = [int(i) for i in ids_text.split(",")]
        except ValueError:
            bad.reject(where, f"label ids: '{ids_text}' is not a comma list of integers")
            continue
        unknown = [i for i in ids if not 0 <= i < len(names)]
        if unknown:
            bad.reject(where, f"label ids: {unknown[0]} is not a label of emotions.txt "
                              f"(0..{len(names) - 1})")
            continue
        fine = [0.0] * len(FINE_LABELS)
        ekman = dict.fromkeys(EKMAN, 0.0)
        for i in set(ids):
            fine[fine_index[names[i]]] = 1.0
            ekman[EKMAN_OF_FINE[names[i]]] += 1.0
        total = sum(ekman.values())
        emotion = tuple(ekman[name] / total for name in EKMAN)
        yield Example(text=text, origin=where, emotion=emotion,
                      sentiment=sentiment_of(emotion), fine=tuple(fine))
