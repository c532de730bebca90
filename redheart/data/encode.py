"""Encoder cache: token states computed once, stored fp16, read with positioned reads.

Keyed by (text content hash, encoder identity, max_tokens, truncation): a
second `prepare` or `run` with the same encoder encodes nothing, and
changing the encoder, max_tokens or truncation can never serve stale states.
Each source is read with its own token budget (`token_budget`), so a profile
has one cache per distinct budget; `cache_for` and `SourceFeaturizers` pick a
source's. Only real tokens are stored (no padding); batches pad.

Layout of `<cache_dir>/states/<encoder id>-t<max_tokens>[-head_tail]/` (a
"head" cache keeps the name it had before truncation modes existed: its
states are the same): shards
`shard-NNNNN.f16` (rows x hidden, fp16) each with `shard-NNNNN.json`
({hidden, rows, checksum, entries: {text hash: [first row, length]}}). The
JSON is written last, atomically, so a shard without one is an interrupted
write and is ignored; a shard whose size or checksum disagrees is reported
with the command that rebuilds it. A writer creates its shard exclusively and
holds a lock on it until the JSON is written, so two `prepare`s (or runs)
filling one cache at once write two shards; an unlocked shard without JSON
was left by a killed writer, and its number is reused.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from redheart.atomic_file import write_text_atomically
from redheart.config import Config, DataConfig, DataSource, TokenBudget, token_budget
from redheart.data.bad_rows import DataError
from redheart.data.encoder import TextEncoder, TokenFeaturizer, resolve_encoder_dir
from redheart.errors import cannot_write
from redheart.units import MIB

if TYPE_CHECKING:
    import torch

    from redheart.data.sources import SourceData

ENCODER_IDENTITY_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json",
                          "vocab.txt", "special_tokens_map.json")
"""An encoder directory's files besides the weights: what a cache's identity hashes, and
what AutoModel and AutoTokenizer read."""
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def text_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def encoder_identity(name: str) -> str:
    """Hash of what determines the encoder's output: config, tokenizer, weights.

    Weights are identified by size plus their first and last MiB, which
    differ between any two checkpoints without reading 100s of MB each run.
    """
    path = resolve_encoder_dir(name)
    digest = hashlib.blake2b(digest_size=8)
    for file in ENCODER_IDENTITY_FILES:
        if (path / file).is_file():
            digest.update(file.encode() + (path / file).read_bytes())
    for file in _WEIGHT_FILES:
        weights = path / file
        if weights.is_file():
            size = weights.stat().st_size
            digest.update(f"{file}:{size}".encode())
            with weights.open("rb") as f:
                digest.update(f.read(MIB))
                f.seek(max(0, size - MIB))
                digest.update(f.read(MIB))
    return digest.hexdigest()


def file_checksum(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


CLAIM_LOCK = ".claim.lock"
"""A cache folder's lock file, held only while a writer picks its shard number."""


def _claim(data_path: Path) -> BinaryIO | None:
    """`data_path` created (or an abandoned one taken over), locked and empty; None when
    another writer holds it. Called under the folder's claim lock, so no other claimant
    runs between a create and its lock."""
    try:
        out = data_path.open("xb")
    except FileExistsError:
        out = data_path.open("r+b")
    try:
        fcntl.flock(out, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:             # its writer is alive
        out.close()
        return None
    # Its writer may have failed and removed it between our open and our lock: a lock on
    # a removed file would hand us a shard nobody can read.
    same = data_path.exists() and os.fstat(out.fileno()).st_ino == data_path.stat().st_ino
    if not same or data_path.with_suffix(".json").exists():
        out.close()
        return None
    out.truncate(0)
    return out


@dataclass
class _Shard:
    path: Path
    fd: int
    hidden: int
    entries: dict[str, list[int]]
    opened_as: tuple[int, int]
    """(size, modification time in ns) when opened: a change means another process wrote it."""

    def rows(self, start: int, length: int, rebuild_hint: str) -> np.ndarray:
        """Token states [length, hidden], refused if the shard changed since it was opened."""
        row_bytes = self.hidden * 2
        data = os.pread(self.fd, length * row_bytes, start * row_bytes)
        now = os.fstat(self.fd)
        if len(data) != length * row_bytes or (now.st_size, now.st_mtime_ns) != self.opened_as:
            what = ("truncated" if now.st_size < self.opened_as[0] else "overwritten")
            raise DataError(f"{self.path}: cache shard {what} while this run read it; its "
                            f"token states cannot be trusted, so the run stops (its "
                            f"checkpoints are untouched); {rebuild_hint}")
        return np.frombuffer(data, dtype=np.float16).reshape(length, self.hidden)


class EncoderCache:
    """Lookup and filling of cached token states for one encoder and token budget."""

    def __init__(self, cache_dir: str | Path, encoder: str, max_tokens: int,
                 verify_checksums: bool = False, truncation: str = "head") -> None:
        self.encoder_name = encoder
        self.max_tokens = max_tokens
        self.truncation = truncation
        mode = "" if truncation == "head" else f"-{truncation}"
        self.dir = (Path(cache_dir) / "states"
                    / f"{encoder_identity(encoder)}-t{max_tokens}{mode}")
        self.rebuild_hint = f"delete {self.dir} and run `redheart prepare PROFILE` again"
        self._shards: list[_Shard] = []
        self._index: dict[str, tuple[int, int, int]] = {}
        self.hidden: int | None = None
        if self.dir.is_dir():
            for meta in sorted(self.dir.glob("shard-*.json")):
                self._open(meta, verify_checksums)

    def _open(self, meta_path: Path, verify: bool) -> None:
        data_path = meta_path.with_suffix(".f16")
        # One damaged shard costs only its own texts: the others stay valid.
        fix = (f"delete {data_path} and {meta_path} (only its texts are encoded again) and "
               f"run `redheart prepare PROFILE` again")
        try:
            meta = json.loads(meta_path.read_text())
            rows, hidden = int(meta["rows"]), int(meta["hidden"])
            entries = {str(key): [int(start), int(length)]
                       for key, (start, length) in meta["entries"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise DataError(f"{meta_path}: damaged cache index; {fix}") from None
        expected = rows * hidden * 2
        actual = data_path.stat().st_size if data_path.is_file() else -1
        if actual != expected:
            raise DataError(f"{data_path}: damaged cache shard ({actual} bytes, expected "
                            f"{expected}); {fix}")
        if verify and file_checksum(data_path) != meta.get("checksum"):
            raise DataError(f"{data_path}: damaged cache shard (checksum mismatch); {fix}")
        if self.hidden not in (None, hidden):
            raise DataError(f"{data_path}: hidden size {hidden} differs from other shards "
                            f"({self.hidden}); {self.rebuild_hint}")
        self.hidden = hidden
        fd = os.open(data_path, os.O_RDONLY | os.O_CLOEXEC)
        weakref.finalize(self, os.close, fd)
        opened = os.fstat(fd)
        if opened.st_size != expected:      # replaced between the check above and the open
            raise DataError(f"{data_path}: damaged cache shard ({opened.st_size} bytes, "
                            f"expected {expected}); {fix}")
        shard_id = len(self._shards)
        self._shards.append(_Shard(data_path, fd, hidden, entries,
                                   (opened.st_size, opened.st_mtime_ns)))
        for key, (start, length) in entries.items():
            self._index[key] = (shard_id, start, length)

    def __contains__(self, text: str) -> bool:
        return text_key(text) in self._index

    def __len__(self) -> int:
        return len(self._index)

    def get(self, text: str) -> np.ndarray:
        """Token states [length, hidden] (fp16) of a cached text."""
        shard_id, start, length = self._entry(text)
        return self._shards[shard_id].rows(start, length, self.rebuild_hint)

    def length(self, text: str) -> int:
        return self._entry(text)[2]

    def _entry(self, text: str) -> tuple[int, int, int]:
        try:
            return self._index[text_key(text)]
        except KeyError:
            raise DataError(f"text not in the encoder cache {self.dir} ({self.max_tokens} "
                            f"tokens, {self.truncation}); run `redheart prepare PROFILE` "
                            f"first, and read a source's states from its own cache "
                            f"(cache_for, SourceFeaturizers)") from None

    def features(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded fp32 token states [B, T, hidden] and mask [B, T] of cached texts."""
        import torch

        arrays = [self.get(text) for text in texts]
        longest = max(a.shape[0] for a in arrays)
        states = torch.zeros(len(arrays), longest, arrays[0].shape[1])
        mask = torch.zeros(len(arrays), longest, dtype=torch.bool)
        for i, a in enumerate(arrays):
            states[i, :a.shape[0]] = torch.from_numpy(np.asarray(a, dtype=np.float32))
            mask[i, :a.shape[0]] = True
        return states, mask

    def missing(self, texts: Iterable[str]) -> list[str]:
        """Distinct texts not yet cached, in first-seen order."""
        seen: dict[str, str] = {}
        for text in texts:
            key = text_key(text)
            if key not in self._index and key not in seen:
                seen[key] = text
        return list(seen.values())

    def _write_shard(self, out: BinaryIO, data_path: Path, todo: list[str], batch_size: int,
                     encoder: TextEncoder, on_progress: Callable[[int, int], None] | None
                     ) -> tuple[dict[str, list[int]], int]:
        """Encode `todo` into the claimed shard file `out`; on a write failure (a full disk)
        the partial file is removed, so the next `prepare` starts that shard again."""
        # Similar lengths per forward pass: less padding, much faster encoding.
        order = sorted(range(len(todo)), key=lambda i: len(todo[i]))
        entries: dict[str, list[int]] = {}
        rows = 0
        try:
            for begin in range(0, len(order), batch_size):
                batch = [todo[i] for i in order[begin:begin + batch_size]]
                states, mask = encoder.encode(batch, self.max_tokens, self.truncation)
                lengths = mask.sum(1).tolist()
                for text, row_states, length in zip(batch, states, lengths, strict=True):
                    out.write(row_states[:length].numpy().astype(np.float16).tobytes())
                    entries[text_key(text)] = [rows, int(length)]
                    rows += int(length)
                if on_progress:
                    on_progress(len(batch), len(todo))
            out.flush()
            os.fsync(out.fileno())
        except OSError as exc:
            data_path.unlink(missing_ok=True)
            raise cannot_write(data_path, exc, "`redheart prepare PROFILE`") from None
        except BaseException:
            data_path.unlink(missing_ok=True)
            raise
        return entries, rows

    def _claim_shard(self) -> tuple[BinaryIO, Path]:
        """A new shard file, open and locked: another `prepare` or `run` filling the same
        cache at the same time gets a number of its own, never this file.

        The shard's lock (flock, dropped by the kernel with the process) tells a shard
        being written from one left without its index by a killed writer, whose number is
        reused. Claimants take turns under the folder's claim lock, so a file is always
        locked before another claimant can look at it.
        """
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            with (self.dir / CLAIM_LOCK).open("ab") as turn:
                fcntl.flock(turn, fcntl.LOCK_EX)      # released when the file closes
                number = len(list(self.dir.glob("shard-*.json"))) + 1
                while True:
                    data_path = self.dir / f"shard-{number:05d}.f16"
                    if not data_path.with_suffix(".json").exists():
                        claimed = _claim(data_path)
                        if claimed is not None:
                            return claimed, data_path
                    number += 1
        except OSError as exc:
            raise cannot_write(self.dir, exc, "`redheart prepare PROFILE`") from None

    def fill(self, texts: Iterable[str], batch_size: int = 64,
             encoder: TextEncoder | None = None,
             on_progress: Callable[[int, int], None] | None = None) -> int:
        """Encode and store every text not cached yet; returns how many were encoded."""
        todo = self.missing(texts)
        if not todo:
            return 0
        encoder = encoder or TextEncoder(self.encoder_name, self.max_tokens,
                                         truncation=self.truncation)
        if self.hidden not in (None, encoder.hidden_size):
            raise DataError(f"{self.dir}: cached hidden size {self.hidden} differs from the "
                            f"encoder's {encoder.hidden_size}; {self.rebuild_hint}")
        out, data_path = self._claim_shard()
        meta_path = data_path.with_suffix(".json")
        with out:       # locked until its index is written: no other writer takes it over
            entries, rows = self._write_shard(out, data_path, todo, batch_size, encoder,
                                              on_progress)
            meta = {"hidden": encoder.hidden_size, "rows": rows,
                    "checksum": file_checksum(data_path), "encoder": self.encoder_name,
                    "max_tokens": self.max_tokens, "truncation": self.truncation,
                    "entries": entries}
            try:
                write_text_atomically(meta_path, json.dumps(meta))
            except OSError as exc:      # a shard without its index is never read: drop it
                data_path.unlink(missing_ok=True)
                raise cannot_write(meta_path, exc, "`redheart prepare PROFILE`") from None
        self._open(meta_path, verify=False)
        return len(todo)


def cache_for(config: Config, source: DataSource, verify_checksums: bool = False) -> EncoderCache:
    """The encoder cache that holds `source`'s token states (its own max_tokens and truncation).

    What reads cached states outside batching (probes, `grow`) must use this,
    not `[data] max_tokens`: a source with a longer budget lives elsewhere.
    """
    budget = token_budget(config.data, source)
    return EncoderCache(config.data.cache_dir, config.data.encoder, budget.max_tokens,
                        verify_checksums, budget.truncation)


class SourceFeaturizers:
    """One featurizer per token budget of a profile; batching asks it for a source's.

    Frozen encoder: the budget's EncoderCache; `[data] encoder_trainable`: a
    TokenFeaturizer that tokenises with that budget. Sources sharing a
    budget (GoEmotions train and dev) share one featurizer. Pass it wherever
    a featurizer goes with SourceData (`source_lengths`, `loader`): a batch
    comes from one source, so it is featurized with that source's budget.
    """

    def __init__(self, config: Config, read: Iterable[SourceData] = ()) -> None:
        """`read`: the sources whose texts `get` answers, each from its own budget."""
        self.data: DataConfig = config.data
        self._by_budget: dict[TokenBudget, EncoderCache | TokenFeaturizer] = {}
        for source in config.data.sources:      # each cache's index is read once, here
            self.for_source(source)
        self._read = list(read)
        self._cache_of: dict[str, EncoderCache] | None = None
        """Text -> its source's cache, built at the first `get`: training never asks."""

    def for_source(self, source: DataSource) -> EncoderCache | TokenFeaturizer:
        budget = token_budget(self.data, source)
        if budget not in self._by_budget:
            if self.data.encoder_trainable:
                self._by_budget[budget] = TokenFeaturizer(self.data.encoder, budget.max_tokens,
                                                          budget.truncation)
            else:
                self._by_budget[budget] = EncoderCache(
                    self.data.cache_dir, self.data.encoder, budget.max_tokens,
                    truncation=budget.truncation)
        return self._by_budget[budget]

    def get(self, text: str) -> np.ndarray:
        """A text's token states, from the cache of its own source's budget.

        Readers outside batching (validate's probes) pool over texts of several
        sources. The first cache that held a text answered before, and caches are
        shared across profiles: an anecdote that another profile had encoded at 128
        tokens head gave the probe those states, not the 256 head + tail the model
        reads. A text in two sources of different budgets takes the later source's.
        """
        if self._cache_of is None:
            self._cache_of = {}
            for data in self._read:
                featurizer = self.for_source(data.source)
                if isinstance(featurizer, EncoderCache):
                    self._cache_of.update(dict.fromkeys(data.texts(), featurizer))
        cache = self._cache_of.get(text)
        if cache is None:
            raise DataError(f"a text of no source given to SourceFeaturizers: {text[:40]!r}")
        if text not in cache:
            raise DataError(f"text not in the encoder cache {cache.dir}; run "
                            f"`redheart prepare PROFILE` first")
        return cache.get(text)
