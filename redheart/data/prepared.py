"""Sources read once, targets derived once: the `prepare` step's example store.

Deriving targets is not free (SURD per anecdote), so `prepare` keeps each
source's examples as JSON under `<cache_dir>/examples/`, keyed by the file's
content, kind and limit (and GoEmotions' label names, which its ids index);
`run` reads them back instead of re-deriving, and an edited source or label
file gets a new key, never a stale one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from redheart.atomic_file import write_text_atomically
from redheart.config import DataSource
from redheart.data.bad_rows import BadRows
from redheart.data.example import DilemmaPair, Example
from redheart.data.sources import SourceData, derived_from, read_source, resolve_path
from redheart.errors import cannot_write

_VERSION = 2
"""Bump when a target derivation changes, so old stores are not reused.

2: SURD smooths the five vote labels, not the 20 (label, A, O) cells (architecture.md §7);
   examples carry their vote count.
"""


def _store_path(cache_dir: Path, source: DataSource, path: Path, skip_bad_rows: bool,
                labels: str = "") -> Path:
    """`labels`: `derived_from`'s answer (GoEmotions' label names; none for other kinds)."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(f"v{_VERSION}|{source.kind}|{source.limit}|{skip_bad_rows}|".encode())
    if labels:
        digest.update(f"labels:{labels}|".encode())
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return cache_dir / "examples" / f"{source.kind}-{digest.hexdigest()}.json"


def load_sources(sources: tuple[DataSource, ...], base_dir: Path, cache_dir: str | Path,
                 skip_bad_rows: bool = False) -> list[SourceData]:
    """Every source's examples, from the store when present, else read and stored."""
    result = []
    for source in sources:
        path = resolve_path(source, base_dir)
        store = _store_path(Path(cache_dir), source, path, skip_bad_rows,
                            derived_from(source, base_dir, path))
        stored = _load(store, source, path) if store.is_file() else None
        if stored is not None:
            result.append(stored)
            continue
        data = read_source(source, base_dir, skip_bad_rows)
        _save(store, data)
        result.append(data)
    return result


def _save(store: Path, data: SourceData) -> None:
    payload = {"examples": [dataclasses.asdict(e) for e in data.examples],
               "pairs": [dataclasses.asdict(p) for p in data.pairs],
               "bad_rows": data.bad.reasons}
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(store, json.dumps(payload))   # whole, or not at all
    except OSError as exc:
        raise cannot_write(store, exc, "`redheart prepare PROFILE`") from None


def _load(store: Path, source: DataSource, path: Path) -> SourceData | None:
    """The stored examples; None when the store cannot be read (cut by a crash or a
    copy, or written by another version): it is derived from `path` again."""
    def tuples(row: dict) -> dict:
        return {k: tuple(v) if isinstance(v, list) else v for k, v in row.items()}

    try:
        payload = json.loads(store.read_text(encoding="utf-8"))
        return SourceData(source, path,
                          examples=[Example(**tuples(row)) for row in payload["examples"]],
                          pairs=[DilemmaPair(**tuples(row)) for row in payload["pairs"]],
                          bad=BadRows(skip=True, reasons=list(payload["bad_rows"])))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
