"""Batches: length-bucketed, mixed across sources by weight, deterministic for a seed.

Texts become model inputs through a featurizer: the encoder cache (frozen
encoder: padded token states) or, with `[data] encoder_trainable`, the
tokenizer (token ids, encoded by the trained encoder inside the step).
Sources may read texts with different budgets (`[[data.sources]]
max_tokens`, `truncation`): given a per-source featurizer
(`SourceFeaturizers`), each source's lengths and batches use its own.

A batch comes from one source (per-batch task sampling, as in MT-DNN): a
dilemma source yields pairs for the Bradley-Terry loss, the others yield
examples whose missing targets are masked. Within a source, examples are
shuffled, then sorted by length inside windows of 32 batches, so a batch
holds texts of similar length (little padding) while the order stays random.
The whole plan is a pure function of (seed, epoch): resuming at a batch
index replays exactly the same batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from redheart.config import DataSource
from redheart.data.example import DilemmaPair, Example
from redheart.data.sources import SourceData
from redheart.tasks import TARGETS

BUCKET_WINDOW = 32
"""Batches per sorting window: larger means less padding but less randomness."""

TARGET_SHAPES = {t.field: t.width for t in TARGETS}
"""Target field -> width (0 for a scalar per example)."""


@dataclass
class Batch:
    """Padded token states of one batch and its masked targets."""

    inputs: torch.Tensor
    """[B, T, hidden] float32 token states, or [B, T] token ids (trainable encoder)."""
    mask: torch.Tensor
    """[B, T] bool, True on real tokens."""
    targets: dict[str, torch.Tensor] = field(default_factory=dict)
    """Field -> [B] or [B, width]; zeros where absent."""
    present: dict[str, torch.Tensor] = field(default_factory=dict)
    """Field -> [B] bool: which rows carry that target."""
    pair_inputs: torch.Tensor | None = None
    """Dilemma batches: inputs of each pair's second action (`inputs` holds the first)."""
    pair_mask: torch.Tensor | None = None
    less_ethical: torch.Tensor | None = None
    """Dilemma batches: [B] long, 0 if the first action is the less ethical."""
    source: int = 0

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        def move(x):
            return None if x is None else x.to(device, non_blocking=non_blocking)

        return Batch(move(self.inputs), move(self.mask),
                     {k: move(v) for k, v in self.targets.items()},
                     {k: move(v) for k, v in self.present.items()},
                     move(self.pair_inputs), move(self.pair_mask), move(self.less_ethical),
                     self.source)

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def rows(self, sl: slice) -> Batch:
        """The rows `sl` of every tensor: a rank's slice, or one micro-batch."""

        def cut(x):
            return None if x is None else x[sl]

        return Batch(self.inputs[sl], self.mask[sl],
                     {k: v[sl] for k, v in self.targets.items()},
                     {k: v[sl] for k, v in self.present.items()},
                     cut(self.pair_inputs), cut(self.pair_mask), cut(self.less_ethical),
                     self.source)

    def split(self, parts: int) -> list[Batch]:
        """`parts` micro-batches for gradient accumulation, sizes differing by at most one row."""
        if parts <= 1 or len(self) < parts:
            return [self]
        base, extra = divmod(len(self), parts)
        chunks, begin = [], 0
        for index in range(parts):
            size = base + (1 if index < extra else 0)
            chunks.append(self.rows(slice(begin, begin + size)))
            begin += size
        return chunks


class Featurizer(Protocol):
    """Turns texts into padded model inputs."""

    def features(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (inputs [B, T, ...], mask [B, T] bool)."""
        ...

    def length(self, text: str) -> int:
        """Tokens the text occupies (for length bucketing)."""
        ...


class PerSource(Protocol):
    """A featurizer per source (e.g. `SourceFeaturizers`: one per token budget)."""

    def for_source(self, source: DataSource) -> Featurizer:
        ...


def featurizer_of(featurizer: Featurizer | PerSource, source: DataSource) -> Featurizer:
    """The featurizer of `source`'s texts: its own when featurizers are per source."""
    route = getattr(featurizer, "for_source", None)
    return route(source) if route is not None else featurizer


def collate_examples(examples: list[Example], featurizer: Featurizer) -> Batch:
    inputs, mask = featurizer.features([e.text for e in examples])
    batch = Batch(inputs, mask)
    for name, width in TARGET_SHAPES.items():
        values = [getattr(e, name) for e in examples]
        present = torch.tensor([v is not None for v in values])
        if not present.any():
            continue
        fill = 0.0 if width == 0 else (0.0,) * width
        batch.targets[name] = torch.tensor([fill if v is None else v for v in values],
                                           dtype=torch.float32)
        batch.present[name] = present
    return batch


def collate_pairs(pairs: list[DilemmaPair], featurizer: Featurizer) -> Batch:
    first, first_mask = featurizer.features([p.first for p in pairs])
    second, second_mask = featurizer.features([p.second for p in pairs])
    return Batch(first, first_mask, pair_inputs=second, pair_mask=second_mask,
                 less_ethical=torch.tensor([p.less_ethical for p in pairs]))


class BatchPlan:
    """Which rows of which source form each batch of an epoch."""

    def __init__(self, lengths: list[list[int]], weights: list[float], batch_size: int,
                 seed: int) -> None:
        self.lengths = lengths
        self.weights = np.asarray(weights, dtype=np.float64) / sum(weights)
        self.batch_size = batch_size
        self.seed = seed

    def batches_per_epoch(self) -> int:
        return sum(-(-len(rows) // self.batch_size) for rows in self.lengths)

    def _source_batches(self, source: int, epoch: int, cycle: int) -> list[list[int]]:
        rng = np.random.default_rng((self.seed, epoch, source, cycle))
        order = rng.permutation(len(self.lengths[source]))
        window = self.batch_size * BUCKET_WINDOW
        batches = []
        for begin in range(0, len(order), window):
            chunk = sorted(order[begin:begin + window].tolist(),
                           key=lambda i: self.lengths[source][i])
            batches += [chunk[i:i + self.batch_size]
                        for i in range(0, len(chunk), self.batch_size)]
        rng.shuffle(batches)
        return batches

    def every_row_once(self) -> list[tuple[int, list[int]]]:
        """Each source's rows exactly once, length-bucketed: for evaluation, not weighted."""
        return [(source, rows) for source in range(len(self.lengths))
                for rows in self._source_batches(source, 0, 0)]

    def epoch(self, epoch: int) -> list[tuple[int, list[int]]]:
        """(source, row indices) per batch; sources drawn by weight, cycling when used up."""
        rng = np.random.default_rng((self.seed, epoch, 1 << 20))
        streams: dict[int, list[list[int]]] = {}
        cycles: dict[int, int] = {}
        plan = []
        for source in rng.choice(len(self.lengths), size=self.batches_per_epoch(),
                                 p=self.weights):
            source = int(source)
            if not streams.get(source):
                cycles[source] = cycles.get(source, -1) + 1
                streams[source] = self._source_batches(source, epoch, cycles[source])
            plan.append((source, streams[source].pop()))
        return plan


class PlannedBatches(Dataset):
    """One item per planned batch, so a DataLoader's workers collate whole batches."""

    def __init__(self, sources: list[SourceData], featurizer: Featurizer | PerSource,
                 plan: list[tuple[int, list[int]]]) -> None:
        self.sources, self.featurizer, self.plan = sources, featurizer, plan

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, index: int) -> Batch:
        source, rows = self.plan[index]
        data = self.sources[source]
        featurizer = featurizer_of(self.featurizer, data.source)
        if data.pairs:
            batch = collate_pairs([data.pairs[i] for i in rows], featurizer)
        else:
            batch = collate_examples([data.examples[i] for i in rows], featurizer)
        batch.source = source
        return batch


def source_lengths(sources: list[SourceData],
                   featurizer: Featurizer | PerSource) -> list[list[int]]:
    """Token counts per row (a pair counts its longer action), for bucketing."""
    lengths = []
    for data in sources:
        length = featurizer_of(featurizer, data.source).length
        lengths.append([max(length(p.first), length(p.second)) for p in data.pairs]
                       if data.pairs else [length(e.text) for e in data.examples])
    return lengths


def loader(sources: list[SourceData], featurizer: Featurizer | PerSource,
           plan: list[tuple[int, list[int]]],
           start: int = 0, cuda: bool = False, workers: int = 2) -> DataLoader:
    """Batches of the plan from index `start`; workers and pinned memory only on CUDA.

    On CPU the training step already uses every core, so extra worker
    processes would only compete with it.
    """
    dataset = PlannedBatches(sources, featurizer, plan[start:])
    # A DataLoader draws its workers' base seed when iterated; from its own
    # generator that draw cannot shift the global RNG (dropout), which would
    # make a resumed run diverge from an uninterrupted one.
    return DataLoader(dataset, batch_size=None, shuffle=False,
                      num_workers=workers if cuda else 0, pin_memory=cuda,
                      persistent_workers=False, generator=torch.Generator().manual_seed(0))
