"""Profile schema: one frozen dataclass per TOML section.

A profile lists only what differs from these defaults, so the defaults are
the reference 330M model. Every key is checked: unknown keys, wrong types and
out-of-range values are one-line `ConfigError`s that name the file, the line
and the fix, because a typo silently ignored costs a user a whole run.
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redheart.errors import ConfigError
from redheart.model.catalog import ESSENTIAL_MODULES, MODULES_BY_NAME, OPTIONAL_MODULES
from redheart.profile_text import KeyLines
from redheart.step_shape import check_step_shape

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib


def _field(default: Any, *, min: float | None = None, max: float | None = None,
           choices: tuple[str, ...] | None = None, positive: bool = False,
           or_zero: bool = False) -> Any:
    """A dataclass field whose metadata carries the range the loader enforces.

    `or_zero`: 0 is accepted besides the range (0 meaning "inherit the default").
    """
    meta = {"min": min, "max": max, "choices": choices, "positive": positive,
            "or_zero": or_zero}
    if isinstance(default, (list, dict)):
        raise TypeError("mutable defaults must be tuples")
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class RunConfig:
    """Identity of a run and where its directory goes."""

    name: str = "redheart"
    """Prefix of the run directory `runs_root/<name>-<timestamp>/`."""
    seed: int = _field(0, min=0)
    """Seed for model init, data order and dropout; same seed, same run on CPU."""
    runs_root: str = "runs"
    """Folder that holds run directories (relative to the working directory)."""


@dataclass(frozen=True)
class ModelConfig:
    """Dimensions of the unified model and which optional modules it builds.

    The defaults are the reference 330M model (DESIGN §4). Scaled-down
    profiles shrink the widths but keep every module, so the structure that
    trains on a CPU is the one that trains on the GPU.
    """

    input_dim: int = _field(384, min=1)
    """Width of the encoder's token states; must equal the encoder's hidden size
    (all-MiniLM-L6-v2: 384)."""
    d_model: int = _field(768, min=8)
    """Backbone width, also the width of every task vector."""
    n_layers: int = _field(6, min=1)
    """Number of pre-LN transformer encoder layers in the backbone."""
    n_heads: int = _field(12, min=1)
    """Attention heads per backbone layer; must divide d_model."""
    ffn_dim: int = _field(3072, min=1)
    """Hidden width of each backbone layer's feed-forward block."""
    dropout: float = _field(0.1, min=0.0, max=0.9)
    """Dropout on activations and residual branches throughout the model."""
    attention_dropout: float = _field(0.0, min=0.0, max=0.9)
    """Dropout on attention probabilities. Off by default: it forces the
    unfused attention path on CPU and GPU, and residual dropout regularises
    enough (as in Llama and ModernBERT)."""
    task_proj_dim: int = _field(512, min=1)
    """Bottleneck width of each task projection."""
    adapter_dim: int = _field(320, min=1)
    """Hidden width of each per-task specialization adapter."""
    pool_dim: int = _field(320, min=1)
    """Hidden width of each per-task attention-pooling scorer."""
    emotion_base_dim: int = _field(1536, min=1)
    """Hidden width of the emotion head's base MLP."""
    moe_experts: int = _field(8, min=1)
    """Experts in the emotion head's mixture of experts."""
    moe_top_k: int = _field(2, min=1)
    """Experts each example is routed to; at most moe_experts."""
    moe_expert_dim: int = _field(1408, min=1)
    """Hidden width of each emotion expert."""
    emotion_level_dim: int = _field(768, min=1)
    """Width of each level (sentiment, Ekman, fine) of the emotion hierarchy."""
    cultural_dim: int = _field(384, min=1)
    """Hidden width of the cultural-dimension (jeong, han, chemyeon) predictor."""
    bentham_expert_dim: int = _field(3200, min=1)
    """Hidden width of each of the 4 ethics experts of the Bentham head."""
    regret_trunk_dim: int = _field(1536, min=1)
    """Hidden width of the regret head's shared trunk."""
    regret_view_dim: int = _field(4224, min=1)
    """Hidden width of each of the regret head's 3 views."""
    surd_component_dim: int = _field(2560, min=1)
    """Hidden width of each of the SURD head's 4 component networks."""
    analyzer_ffn_dim: int = _field(3136, min=1)
    """Hidden width of every residual block in the analyzers."""
    emotion_analyzer_blocks: int = _field(10, min=1)
    """Residual blocks in emotion_analyzer."""
    bentham_calculator_blocks: int = _field(9, min=1)
    """Residual blocks in bentham_calculator."""
    regret_analyzer_blocks: int = _field(10, min=1)
    """Residual blocks in regret_analyzer."""
    surd_analyzer_blocks: int = _field(5, min=1)
    """Residual blocks in surd_analyzer."""
    dsp_channels: int = _field(64, min=1)
    """Per-token emotion-intensity signals the DSP simulator analyses."""
    dsp_filters: int = _field(256, min=1)
    """Learnable FIR filters in the DSP filterbank."""
    dsp_kernel: int = _field(15, min=1)
    """Taps of each DSP filter (odd keeps the signal centred)."""
    dsp_bands: int = _field(16, min=1)
    """Spectral bands the FFT magnitudes are pooled into."""
    dsp_hidden: int = _field(4200, min=1)
    """Hidden width of the DSP simulator's feature MLP."""
    kalman_dim: int = _field(2150, min=1)
    """Hidden width of the Kalman filter's noise-model network."""
    fusion_layers: int = _field(2, min=1)
    """Cross-task attention layers in utilities."""
    modules: tuple[str, ...] = OPTIONAL_MODULES
    """Optional modules to build (default: all of them)."""
    disabled: tuple[str, ...] = ()
    """Essential analyzers to leave out; allowed only outside TRAINING."""


TASK_WEIGHT_KEYS = ("emotion", "bentham", "regret", "surd")


@dataclass(frozen=True)
class TaskWeights:
    """Fixed per-task loss weights, used when train.loss_weighting = "fixed"."""

    emotion: float = _field(1.0, min=0.0)
    """Weight of the emotion loss."""
    bentham: float = _field(1.0, min=0.0)
    """Weight of the Bentham loss."""
    regret: float = _field(1.0, min=0.0)
    """Weight of the regret loss."""
    surd: float = _field(1.0, min=0.0)
    """Weight of the SURD loss."""


SOURCE_KINDS = ("goemotions", "scruples_anecdotes", "scruples_dilemmas", "jsonl")

TRUNCATIONS = ("head", "head_tail")
"""How a text longer than its max_tokens is cut (see DataConfig.truncation)."""

MIN_TOKENS, MAX_TOKENS = 8, 8192
"""Range of a max_tokens: room for the special tokens and some text, and no more than
any encoder reads."""


@dataclass(frozen=True)
class DataSource:
    """One `[[data.sources]]` entry: a public data set or a project JSONL file."""

    kind: str = _field("jsonl", choices=SOURCE_KINDS)
    """Reader to use for `path`."""
    path: str = ""
    """File to read, relative to the profile's directory when not absolute."""
    split: str = _field("train", choices=("train", "dev", "test"))
    """Which role the rows play: training, evaluation or held-out test."""
    weight: float = _field(1.0, positive=True)
    """Relative sampling weight of this source in the training mixture."""
    limit: int = _field(0, min=0)
    """Read at most this many rows (0: all)."""
    labels: str = ""
    """goemotions only: the emotions.txt naming the label ids (default: next to path)."""
    ekman_mapping: str = ""
    """goemotions only: the ekman_mapping.json grouping (default: next to path)."""
    max_tokens: int = _field(0, min=MIN_TOKENS, max=MAX_TOKENS, or_zero=True)
    """Tokens kept per text of this source (0: [data] max_tokens). Long texts such as
    Scruples anecdotes need more than short comments; each length is a cache of its own."""
    truncation: str = _field("", choices=("", *TRUNCATIONS))
    """How this source's long texts are cut ("": [data] truncation)."""


@dataclass(frozen=True)
class DataConfig:
    """Where examples come from and how text becomes token states."""

    encoder: str = "all-MiniLM-L6-v2"
    """Frozen text encoder: the bundled all-MiniLM-L6-v2, or a local HF model directory."""
    max_tokens: int = _field(128, min=MIN_TOKENS, max=MAX_TOKENS)
    """Token states kept per text of a source that sets no max_tokens of its own; longer
    texts are truncated."""
    truncation: str = _field("head", choices=TRUNCATIONS)
    """How a text longer than max_tokens is cut, for sources that set none: "head" keeps
    its first tokens; "head_tail" keeps the first and the last half of the budget
    ([CLS] head ... tail [SEP]): a title and the end, where an anecdote asks its question."""
    cache_dir: str = ".cache/redheart"
    """Where encoded token states and derived targets are kept (relative to the
    working directory); shared by all runs and profiles."""
    encoder_trainable: bool = False
    """Fine-tune the encoder with the model instead of reading cached frozen states
    (no cache; batches carry token ids)."""
    encode_batch: int = _field(64, min=1)
    """Texts per encoder forward pass while filling the cache."""
    eval_fraction: float = _field(0.0, min=0.0, max=0.5)
    """Share of each train source held out for evaluation when no dev source is given."""
    sources: tuple[DataSource, ...] = ()
    """Data sources in the mixture."""


@dataclass(frozen=True)
class TokenBudget:
    """How many tokens of a text are read, and how the rest is cut."""

    max_tokens: int
    truncation: str

    def label(self) -> str:
        """`256 tokens, head_tail`: for messages and the model card."""
        return f"{self.max_tokens} tokens, {self.truncation}"


def token_budget(data: DataConfig, source: DataSource) -> TokenBudget:
    """A source's budget: its own max_tokens and truncation, else [data]'s."""
    return TokenBudget(source.max_tokens or data.max_tokens,
                       source.truncation or data.truncation)


def longest_budget(data: DataConfig) -> TokenBudget:
    """The longest budget of any source (the first listed on a tie); [data]'s without sources.

    The memory forecast's worst case, and what `predict` reads a raw text
    with: a text has no source, and cutting it shorter than training read
    its longest texts would lose what the model learned from.
    """
    budgets = [token_budget(data, s) for s in data.sources] or [
        TokenBudget(data.max_tokens, data.truncation)]
    return max(budgets, key=lambda b: b.max_tokens)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation: steps, batch, AdamW, schedule, loss weighting, safety."""

    max_steps: int = _field(0, min=0)
    """Optimizer steps to run; 0 means `epochs` full passes over the data."""
    epochs: int = _field(1, min=1)
    """Passes over the training mixture when max_steps is 0."""
    batch_size: int = _field(16, min=1)
    """Examples per optimizer step (the effective batch)."""
    grad_accum: int = _field(1, min=1)
    """Micro-batches accumulated per optimizer step; must divide batch_size."""
    lr: float = _field(1e-4, positive=True, max=1.0)
    """Peak AdamW learning rate."""
    weight_decay: float = _field(0.01, min=0.0, max=1.0)
    """AdamW decoupled weight decay."""
    betas: tuple[float, float] = (0.9, 0.999)
    """AdamW (beta1, beta2), each in [0, 1)."""
    warmup_steps: int = _field(100, min=0)
    """Linear warmup steps before the cosine decay."""
    eta_min: float = _field(1e-6, min=0.0)
    """Learning rate at the end of the cosine decay."""
    grad_clip: float = _field(1.0, min=0.0)
    """Global gradient-norm clip (0 disables clipping)."""
    loss_weighting: str = _field("uncertainty", choices=("uncertainty", "fixed"))
    """Learned task-uncertainty weights (needs utilities) or fixed task_weights."""
    task_weights: TaskWeights = TaskWeights()
    """Per-task weights used with loss_weighting = "fixed"."""
    focal_gamma: float = _field(2.0, min=0.0)
    """Focusing parameter of the emotion focal loss (0 is plain cross-entropy)."""
    regret_balance: float = _field(0.5, min=0.0, max=1.0)
    """Exponent of the inverse-frequency weight of WRONG vs RIGHT regret rows:
    0 leaves the majority (RIGHT) to pull every prediction under 0.5, 1 fully
    balances the two sides at some cost in MAE."""
    on_nonfinite: str = _field("stop", choices=("stop", "skip"))
    """On a non-finite loss or gradient: stop with an error, or skip the step."""
    max_skips: int = _field(10, min=1)
    """Consecutive skipped steps after which the run stops anyway."""
    no_param_update: bool = False
    """Dry run: everything but optimizer.step()."""
    device: str = _field("auto", choices=("auto", "cpu", "cuda"))
    """Where to train; auto picks CUDA when a GPU is visible."""
    precision: str = _field("auto", choices=("auto", "fp32", "bf16"))
    """auto: bf16 autocast on CUDA, fp32 on CPU (bf16 matmul is slow on CPUs)."""
    eval_every: int = _field(0, min=0)
    """Evaluate every N steps (0: at the end of each epoch)."""
    init_from: str = ""
    """Checkpoint whose model weights start this run (e.g. a `redheart grow` output),
    relative to the profile: a step folder, a best/last pointer or a run directory
    (its best checkpoint); the optimizer, step and warmup start fresh.
    --resume continues the run's own checkpoint instead (a run killed before its
    first checkpoint starts again from init_from)."""


@dataclass(frozen=True)
class MemoryConfig:
    """Inputs of the memory forecast and planner."""

    budget_gb: float = _field(0.0, min=0.0)
    """Memory budget of the training device in GiB: GPU memory, or RAM for a CPU run
    (0: the free memory of the first GPU; no budget on CPU)."""
    context_mb: int = _field(400, min=0)
    """CUDA context and workspace overhead, calibratable per machine."""
    auto_savers: bool = True
    """Let the planner apply memory savers until the forecast fits the budget."""
    activation_checkpointing: bool = False
    """Recompute backbone layer activations in backward (torch.utils.checkpoint)."""
    fused_adamw: bool = True
    """Fused AdamW on CUDA (no foreach step transient of 4 B/param)."""
    optimizer: str = _field("adamw", choices=("adamw", "adamw8bit"))
    """AdamW, or 8-bit AdamW from bitsandbytes."""
    offload_analyzer_optimizer: bool = False
    """Keep the analyzers' optimizer state in CPU memory."""
    micro_batch: int = _field(0, min=0)
    """Examples per forward pass (0: batch_size / grad_accum)."""


@dataclass(frozen=True)
class CheckpointConfig:
    """When checkpoints are written and how many are kept."""

    every_steps: int = _field(500, min=1)
    """Write a checkpoint every N optimizer steps."""
    keep_last: int = _field(3, min=1)
    """Periodic checkpoints kept; older ones are pruned (best and last stay)."""


@dataclass(frozen=True)
class DistributedConfig:
    """Multi-process training under torchrun."""

    strategy: str = _field("auto", choices=("auto", "ddp", "fsdp2"))
    """auto: DDP when the model fits one GPU, FSDP2 otherwise."""
    backend: str = _field("auto", choices=("auto", "nccl", "gloo"))
    """auto: nccl on GPUs, gloo on CPU."""
    timeout_s: int = _field(300, min=10)
    """How long a collective waits for the other ranks before the job ends (README
    "Several processes"): bounds the wait for a rank lost without closing its connection."""


NOTIFY_ON = ("finish", "error", "nonfinite", "stall")
"""What can notify: the run ended (done or stopped), failed, stopped on a non-finite loss
or gradient, or went quiet (redheart/notify/rules.py)."""


@dataclass(frozen=True)
class NotifyConfig:
    """Who hears how a run goes, from the process that trains (headless runs too)."""

    urls: tuple[str, ...] = ()
    """Apprise URLs to notify (slack://..., ntfy://..., mailto://..., json://host/path);
    none: no notifications. `redheart run --notify URL` adds more. They are written to
    the run directory's config.toml (0700), like the rest of the profile."""
    on: tuple[str, ...] = _field(NOTIFY_ON, choices=NOTIFY_ON)
    """Which happenings notify: finish, error, nonfinite, stall."""
    stall_minutes: float = _field(10.0, positive=True)
    """A running run (not paused) with no step event for this long has stalled: a hung
    collective, a dead data loader, a full disk that blocks a write."""


@dataclass(frozen=True)
class LoggingConfig:
    """Copies of the run's metrics for other tools, written while it trains."""

    tensorboard: bool = False
    """Write loss, eval metrics, LR, gradient norm, samples/s and memory as TensorBoard
    scalars in RUN_DIR/tensorboard/ (`tensorboard --logdir runs`)."""


@dataclass(frozen=True)
class Config:
    """A whole resolved profile."""

    run: RunConfig = RunConfig()
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    memory: MemoryConfig = MemoryConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    distributed: DistributedConfig = DistributedConfig()
    notify: NotifyConfig = NotifyConfig()
    logging: LoggingConfig = LoggingConfig()
    source: str = field(default="<defaults>", compare=False)
    """Where this config was read from, for messages."""


SECTIONS: dict[str, type] = {
    name: kind for name, kind in typing.get_type_hints(Config).items() if name != "source"
}


# --------------------------------------------------------------------- loading

def load_profile(path: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Read a TOML profile, apply `--set section.key=value` overrides, validate."""
    path = Path(path)
    try:
        # utf-8-sig: some Windows editors start the file with a byte-order mark
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: profile not found; pass the path of a TOML file "
                          f"such as profiles/quickstart.toml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read profile ({exc})") from None
    return parse_profile(text, str(path), overrides)


def parse_profile(text: str, source: str, overrides: Iterable[str] = ()) -> Config:
    """Validate profile text; `source` names it in every error message."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, reason = KeyLines.syntax_error_location(exc)
        where = f"{source}:{line}" if line else source
        raise ConfigError(f"{where}: TOML syntax error: {reason}; fix the syntax "
                          f"on that line") from None
    lines = KeyLines(text)
    origins = {}
    for override in overrides:
        origins[_apply_override(raw, override)] = override
    sections = {}
    for name, table in raw.items():
        if name not in SECTIONS:
            line = lines.section_line(name)
            raise ConfigError(_unknown(f"{source}:{line}" if line else source,
                                       "section", name, SECTIONS))
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: '{name}' must be a [{name}] table")
        sections[name] = _build(SECTIONS[name], table, _Where(source, lines, (name,), origins))
    config = Config(**sections, source=source)
    validate(config)
    return config


def _apply_override(raw: dict, override: str) -> tuple[str, str]:
    """Merge one `section.key=value` into the parsed profile; -> (section, key)."""
    where = f"--set {override}"
    key, sep, value_text = override.partition("=")
    parts = key.strip().split(".")
    if not sep or len(parts) != 2 or not all(parts):
        raise ConfigError(f"{where}: expected section.key=value, e.g. --set train.lr=3e-4")
    section, name = parts
    if section not in SECTIONS:
        raise ConfigError(_unknown(where, "section", section, SECTIONS))
    names = {f.name for f in dataclasses.fields(SECTIONS[section])}
    if name not in names:
        raise ConfigError(_unknown(f"{where}: [{section}]", "key", name, names))
    raw.setdefault(section, {})[name] = _parse_override_value(
        value_text.strip(), _field_type(SECTIONS[section], name))
    return section, name


def _parse_override_value(text: str, expected: Any) -> Any:
    """Read a command-line value as TOML; a bare word for a string field is the string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        if expected is str:
            return text
        if _is_tuple_of(expected, str):
            return [item.strip() for item in text.split(",") if item.strip()]
        return text  # left to the type check, which names the expected type


@dataclass(frozen=True)
class _Where:
    """Location of a table being validated, for error messages."""

    source: str
    lines: KeyLines
    path: tuple[str, ...]
    overrides: Mapping[tuple[str, str], str]
    """(section, key) -> the `--set` text that gave its value."""
    index: int | None = None

    def child(self, name: str, index: int | None = None) -> _Where:
        return _Where(self.source, self.lines, (*self.path, name), self.overrides, index)

    def location(self, key: str) -> str:
        """`file:line` of a key, or the `--set` that overrode it."""
        if len(self.path) == 1 and (self.path[0], key) in self.overrides:
            return f"--set {self.overrides[(self.path[0], key)]}"
        line = self.lines.key_line(self.path, self.index, key)
        return f"{self.source}:{line}" if line else self.source

    def key(self, key: str) -> str:
        return f"{self.location(key)}: [{self.table}] {key}"

    @property
    def table(self) -> str:
        name = ".".join(self.path)
        return f"{name}[{self.index}]" if self.index is not None else name


def _build(cls: type, table: Mapping[str, Any], where: _Where) -> Any:
    names = [f.name for f in dataclasses.fields(cls) if f.name != "source"]
    values = {}
    for key, value in table.items():
        if key not in names:
            raise ConfigError(_unknown(f"{where.location(key)}: [{where.table}]", "key", key,
                                       names))
        values[key] = _coerce(value, _field_type(cls, key), _metadata(cls, key), where, key)
    return cls(**values)


def _coerce(value: Any, expected: Any, meta: Mapping[str, Any], where: _Where, key: str) -> Any:
    """Check one value against its annotated type and range; return it typed."""
    shown = f"{where.key(key)} = {value!r}"
    if dataclasses.is_dataclass(expected):
        if not isinstance(value, dict):
            raise ConfigError(f"{shown}: expected a table of {_keys(expected)}")
        return _build(expected, value, where.child(key))
    if _is_tuple_of(expected, None):
        item_type = typing.get_args(expected)[0]
        if not isinstance(value, list):
            raise ConfigError(f"{shown}: expected a list")
        if dataclasses.is_dataclass(item_type):
            return tuple(
                _build(item_type, item, where.child(key, i))
                if isinstance(item, dict) else _raise(f"{shown}: expected a list of tables")
                for i, item in enumerate(value))
        return tuple(_coerce(item, item_type, meta, where, key) for item in value)
    if typing.get_origin(expected) is tuple:
        item_types = typing.get_args(expected)
        ok = (isinstance(value, list) and len(value) == len(item_types)
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1
                      for v in value))
        if not ok:  # the only fixed-length tuple is AdamW's betas
            raise ConfigError(f"{shown}: expected [beta1, beta2], each >= 0 and < 1")
        return tuple(float(v) for v in value)
    if expected is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{shown}: expected true or false")
        return value
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{shown}: expected an integer{_range_text(meta)}")
        _check_range(value, meta, shown)
        return value
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{shown}: expected a number{_range_text(meta)}")
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{shown}: expected a finite number{_range_text(meta)}")
        _check_range(value, meta, shown)
        return float(value)
    if expected is str:
        if not isinstance(value, str):
            raise ConfigError(f"{shown}: expected a string")
        choices = meta.get("choices")
        if choices and value not in choices:
            raise ConfigError(_unknown(shown + ":", "value", value, choices))
        return value
    raise TypeError(f"unsupported schema type {expected!r} for {key}")


def _raise(message: str) -> Any:
    raise ConfigError(message)


def _check_range(value: float, meta: Mapping[str, Any], shown: str) -> None:
    low, high = meta.get("min"), meta.get("max")
    if meta.get("or_zero") and value == 0:
        return
    if (low is not None and value < low) or (high is not None and value > high) or (
            meta.get("positive") and value <= 0):
        raise ConfigError(f"{shown}: out of range, expected{_range_text(meta)}")


def _range_text(meta: Mapping[str, Any]) -> str:
    low, high, positive = meta.get("min"), meta.get("max"), meta.get("positive")
    parts = []
    if positive:
        parts.append("> 0")
    elif low is not None:
        parts.append(f">= {low:g}")
    if high is not None:
        parts.append(f"<= {high:g}")
    text = " and ".join(parts)
    if meta.get("or_zero"):
        text = f"0, or {text}"
    return " " + text if text else ""


def _unknown(where: str, what: str, value: str, valid: Iterable[str]) -> str:
    """"<where> unknown <what> '<value>'; did you mean '<closest>'?" (or the valid list).

    Short lists (choices of a value) are always shown whole, and suggested
    from only when the match is near ('goemotion'), not merely similar
    ('gpu' is not a misspelt 'cpu').
    """
    valid = list(valid)
    short = len(valid) <= 6
    close = difflib.get_close_matches(value, valid, n=1, cutoff=0.8 if short else 0.5)
    if close:
        hint = f"did you mean '{close[0]}'?"
    else:
        hint = "valid: " + ", ".join(v or '""' for v in valid)   # "" is "inherit"
    sep = " " if where.endswith(("]", ":")) else ": "
    return f"{where}{sep}unknown {what} '{value}'; {hint}"


def _field_type(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls)[name]


def _metadata(cls: type, name: str) -> Mapping[str, Any]:
    return next(f.metadata for f in dataclasses.fields(cls) if f.name == name)


def _keys(cls: type) -> str:
    return ", ".join(f.name for f in dataclasses.fields(cls))


def _is_tuple_of(expected: Any, item: type | None) -> bool:
    """True for `tuple[X, ...]` (and X is `item` when given)."""
    if typing.get_origin(expected) is not tuple:
        return False
    args = typing.get_args(expected)
    return len(args) == 2 and args[1] is Ellipsis and (item is None or args[0] is item)


# ------------------------------------------------------------ cross-field checks

def validate(config: Config) -> None:
    """Checks that involve more than one key, named by the keys involved."""
    m, t, src = config.model, config.train, config.source
    if m.d_model % m.n_heads:
        raise ConfigError(f"{src}: [model] n_heads = {m.n_heads} must divide d_model = "
                          f"{m.d_model}; pick a divisor such as "
                          f"{_divisor_near(m.d_model, m.n_heads)}")
    if m.moe_top_k > m.moe_experts:
        raise ConfigError(f"{src}: [model] moe_top_k = {m.moe_top_k} exceeds moe_experts = "
                          f"{m.moe_experts}; lower moe_top_k")
    check_step_shape(config)
    check_module_names(config.model, src)
    if t.loss_weighting == "uncertainty" and "utilities" not in m.modules:
        raise ConfigError(f"{src}: [train] loss_weighting = \"uncertainty\" needs the "
                          f"'utilities' module; add it to [model] modules or set "
                          f"loss_weighting = \"fixed\"")


def check_module_names(model: ModelConfig, source: str) -> None:
    """Unknown names, essential names in `modules`, and unmet requirements."""
    for name in model.modules:
        if name not in MODULES_BY_NAME:
            raise ConfigError(_unknown(f"{source}: [model] modules:", "module", name,
                                       OPTIONAL_MODULES))
    for name in model.disabled:
        if name not in MODULES_BY_NAME:
            raise ConfigError(_unknown(f"{source}: [model] disabled:", "module", name,
                                       ESSENTIAL_MODULES))
        if not MODULES_BY_NAME[name].essential:
            raise ConfigError(f"{source}: [model] disabled: '{name}' is optional; leave it "
                              f"out of [model] modules instead")
    enabled = set(model.modules)
    for name in model.modules:
        for needed in MODULES_BY_NAME[name].requires:
            if needed not in enabled and not MODULES_BY_NAME[needed].essential:
                raise ConfigError(f"{source}: [model] modules: '{name}' needs '{needed}' "
                                  f"(it consumes its outputs); add '{needed}' or remove '{name}'")


def _divisor_near(n: int, k: int) -> str:
    """The divisors of n just below and above k, e.g. "4 or 6"."""
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    below = [d for d in divisors if d < k][-1:]
    above = [d for d in divisors if d > k][:1]
    return " or ".join(str(d) for d in below + above)
