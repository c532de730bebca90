"""Profile schema: one frozen dataclass per TOML section.

A profile lists only what differs from these defaults, so the defaults are
the reference 330M model. Each field carries the range the loader enforces
(`redheart.config_load` reads and checks a profile; `redheart.config_toml`
writes one back); the checks that involve more than one key are `validate`.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any

from redheart.errors import ConfigError, unknown_name
from redheart.model.catalog import ESSENTIAL_MODULES, MODULES_BY_NAME, OPTIONAL_MODULES
from redheart.step_shape import check_accumulation, check_micro_batch


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

    The defaults are the reference 330M model (architecture.md §6). Scaled-down
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
    """Mixture weight: each training batch comes from one source, drawn with probability
    proportional to `weight` (not to the source's size), so a small source is cycled."""
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
    """Frozen text encoder: the bundled all-MiniLM-L6-v2, or a local HF model directory
    (relative to the working directory, as cache_dir; a run records it absolute)."""
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
    skip_bad_rows: bool = False
    """Skip malformed data rows (counted, and the first reasons reported) instead of
    stopping at the first: for large scraped files where a few broken rows should not
    stop a run. `prepare` and `data stats` also take it as --skip-bad-rows."""
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
    compile: bool = False
    """Run each micro-batch's forward and losses through torch.compile as one graph (fused
    kernels; batches padded to a few lengths). The first steps take minutes longer while
    it compiles; a failed compilation trains eagerly with a warning."""
    peak_tflops: float = _field(0.0, min=0.0)
    """Dense peak TFLOP/s of one training device in the dtype the run uses (bf16 or
    fp32), the denominator of each step's `mfu`. 0: NVIDIA's figure for a GPU in the table
    of `redheart/train/peak_flops.py`, a GEMM measured at the start on CPU. Set it for a
    GPU the table lacks (its MFU is null until then) or to compare against another figure."""
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
    check_accumulation(config)
    check_module_names(config.model, src)
    if t.loss_weighting == "uncertainty" and "utilities" not in m.modules:
        raise ConfigError(f"{src}: [train] loss_weighting = \"uncertainty\" needs the "
                          f"'utilities' module; add it to [model] modules or set "
                          f"loss_weighting = \"fixed\"")
    check_micro_batch(config)


def check_module_names(model: ModelConfig, source: str) -> None:
    """Unknown names, essential names in `modules`, and unmet requirements."""
    for name in model.modules:
        if name not in MODULES_BY_NAME:
            raise ConfigError(unknown_name(f"{source}: [model] modules:", "module", name,
                                           OPTIONAL_MODULES))
    for name in model.disabled:
        if name not in MODULES_BY_NAME:
            raise ConfigError(unknown_name(f"{source}: [model] disabled:", "module", name,
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
