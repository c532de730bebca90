"""Reading the `[[data.sources]]` of a profile into examples and dilemma pairs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from redheart.config import SOURCE_KINDS, Config, DataSource
from redheart.data.bad_rows import BadRows, DataError
from redheart.data.download.hint import download_command
from redheart.data.encoder import BUNDLED_ENCODER
from redheart.data.example import DilemmaPair, Example
from redheart.data.sources import goemotions, jsonl, scruples

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample"
"""The embedded sample set, addressed in profiles as `path = "sample:<file>"`."""


@dataclass
class SourceData:
    """What one source yielded."""

    source: DataSource
    path: Path
    examples: list[Example] = field(default_factory=list)
    pairs: list[DilemmaPair] = field(default_factory=list)
    bad: BadRows = field(default_factory=BadRows)

    def texts(self) -> list[str]:
        """Every text of the source: examples, and both actions of each pair."""
        texts = [e.text for e in self.examples]
        for pair in self.pairs:
            texts += [pair.first, pair.second]
        return texts


def resolve_path(source: DataSource, base_dir: Path) -> Path:
    """`sample:NAME` is the embedded set; a relative path is relative to the profile."""
    if source.path.startswith("sample:"):
        path = SAMPLE_DIR / source.path.removeprefix("sample:")
    else:
        path = Path(source.path).expanduser()
        if not path.is_absolute():
            path = base_dir / path
    if not source.path:
        raise DataError(f"[data.sources] kind = '{source.kind}': path is empty; name the file")
    if not path.is_file():
        command = download_command(path)
        get = f"get it with `{command}`, or " if command else ""
        raise DataError(f"[data.sources] path = '{source.path}': {path} not found; {get}fix the "
                        f"path (relative paths are relative to the profile's folder)")
    return path


@dataclass(frozen=True)
class Reader:
    """How one source kind is read. `read(path, bad)` yields rows lazily, so `limit`
    stops reading early."""

    read: Callable[..., Iterator[Example] | Iterator[DilemmaPair]]
    pairs: bool = False
    """Its rows are dilemma pairs (the Bradley-Terry loss) rather than examples."""
    label_files: bool = False
    """It also takes `labels=` and `ekman_mapping=` paths; other kinds refuse them."""


READERS: dict[str, Reader] = {
    "goemotions": Reader(goemotions.read, label_files=True),
    "scruples_anecdotes": Reader(scruples.read_anecdotes),
    "scruples_dilemmas": Reader(scruples.read_dilemmas, pairs=True),
    "jsonl": Reader(jsonl.read),
}
"""Reader per source kind: adding a kind is one entry here and its name in SOURCE_KINDS."""

if set(READERS) != set(SOURCE_KINDS):   # a check that `python -O` keeps
    raise RuntimeError(f"source kinds without a reader or readers without a kind: "
                       f"{sorted(set(READERS) ^ set(SOURCE_KINDS))}")


def _optional(path: str, base_dir: Path) -> Path | None:
    if not path:
        return None
    resolved = Path(path).expanduser()
    return resolved if resolved.is_absolute() else base_dir / resolved


def anchor_paths(config: Config, base_dir: Path) -> Config:
    """The config with source paths made absolute, and the cache directory and a local
    encoder directory resolved (both relative to the working directory).

    A run directory and each checkpoint keep a copy of the config; with
    anchored paths, `validate` or `--resume` from any working directory reads
    the same files the run read.
    """
    sources = tuple(
        s if not s.path or s.path.startswith("sample:") else dataclasses.replace(
            s, path=str(_optional(s.path, base_dir).resolve()),
            labels=str(_optional(s.labels, base_dir).resolve()) if s.labels else "",
            ekman_mapping=(str(_optional(s.ekman_mapping, base_dir).resolve())
                           if s.ekman_mapping else ""))
        for s in config.data.sources)
    encoder = config.data.encoder
    if encoder != BUNDLED_ENCODER:      # a local directory: relative to the working directory
        encoder = str(Path(encoder).expanduser().resolve())
    data = dataclasses.replace(config.data, sources=sources, encoder=encoder,
                               cache_dir=str(Path(config.data.cache_dir).resolve()))
    return dataclasses.replace(config, data=data)


def derived_from(source: DataSource, base_dir: Path, path: Path) -> str:
    """What besides the data file decides a source's targets, checked: for GoEmotions the
    label names in id order (the ids index emotions.txt), '' for the other kinds.

    The example store is keyed by it, so edited or missing label files are read
    again or refused, never answered from targets derived with the old ones.
    """
    if not READERS[source.kind].label_files:
        return ""
    goemotions.check_ekman_mapping(path, _optional(source.ekman_mapping, base_dir))
    return ",".join(goemotions.read_label_names(path, _optional(source.labels, base_dir)))


def read_source(source: DataSource, base_dir: Path, skip_bad_rows: bool = False) -> SourceData:
    path = resolve_path(source, base_dir)
    data = SourceData(source, path, bad=BadRows(skip=skip_bad_rows))
    reader = READERS[source.kind]
    label_files = {}
    if reader.label_files:
        label_files = {"labels": _optional(source.labels, base_dir),
                       "ekman_mapping": _optional(source.ekman_mapping, base_dir)}
    elif source.labels or source.ekman_mapping:
        raise DataError(f"[data.sources] kind = '{source.kind}': labels and ekman_mapping are "
                        f"for goemotions sources only; remove them")
    rows = islice(reader.read(path, data.bad, **label_files), source.limit or None)
    if reader.pairs:
        data.pairs = list(rows)
    else:
        data.examples = list(rows)
    if not data.examples and not data.pairs:
        raise DataError(f"{path}: no usable rows; check the file and its kind "
                        f"('{source.kind}')")
    return data
