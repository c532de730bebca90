"""Module selection report and the memory planner (architecture.md §5).

The planner starts from the profile as written and, while the forecast does
not fit the budget, turns on the next saver in SAVERS' order. Each saver is
a config change the engine really implements, so the plan that fits is the
config that runs. A saver that cannot apply here (8-bit AdamW without
bitsandbytes) is listed with the reason, never silently assumed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redheart.config import Config
from redheart.errors import RedHeartError
from redheart.memory.forecast import Forecast, forecast, uses_bf16
from redheart.step_shape import rank_accumulation, step_shape
from redheart.units import GIB, MIB

SAVERS = ("bf16_autocast", "fused_adamw", "activation_checkpointing", "adamw_8bit",
          "offload_analyzer_optimizer", "micro_batch")
"""architecture.md §5's order: cheapest in speed and exactness first."""


class DoesNotFitError(RedHeartError):
    """No combination of savers fits the budget; exit 3 (not a usage error)."""

    exit_code = 3


@dataclass(frozen=True)
class Budget:
    bytes: int | None
    source: str
    """Where the figure came from, or why there is none."""


@dataclass(frozen=True)
class SaverStep:
    name: str
    status: str
    """"on in the profile", "applied", "unavailable" or "not needed"; for micro_batch also
    "no gain", or "raised" (fewer, larger forward passes in room the budget leaves)."""
    detail: str = ""
    total_after: int | None = None


@dataclass(frozen=True)
class Plan:
    config: Config
    """The profile with the chosen savers: what the engine runs."""
    device: str
    budget: Budget
    before: Forecast
    after: Forecast
    steps: tuple[SaverStep, ...]

    @property
    def fits(self) -> bool | None:
        return None if self.budget.bytes is None else self.after.total <= self.budget.bytes

    @property
    def savers(self) -> list[str]:
        return [s.name for s in self.steps if s.status in ("on in the profile", "applied")]

    def as_json(self) -> dict[str, Any]:
        body = self.after.as_json()
        return {"total_params": sum(m.params for m in self.after.modules if m.enabled),
                "device": self.device, "budget_bytes": self.budget.bytes,
                "budget_source": self.budget.source, "fits": self.fits,
                "savers": self.savers,
                "saver_steps": [dataclasses.asdict(s) for s in self.steps],
                "forecast_before": {**self.before.category_totals(),
                                    "total": self.before.total},
                "micro_batch": self.after.rows,
                "accumulation_steps": rank_accumulation(self.config, self.after.ranks), **body}

    def shortfall(self) -> str:
        """The one-line refusal: by how much, and what is largest."""
        over = (self.after.total - (self.budget.bytes or 0)) / MIB
        largest = ", ".join(f"{name} {size / MIB:,.0f} MiB"
                            for name, size in self.after.largest())
        tried = ", ".join(s.name for s in self.steps if s.status in ("applied",
                                                                      "on in the profile"))
        freeze = (", freeze the encoder (data.encoder_trainable = false)"
                  if self.config.data.encoder_trainable else "")
        return (f"{self.config.source}: the forecast {self.after.total / MIB:,.0f} MiB does not "
                f"fit the budget {self.budget.bytes / MIB:,.0f} MiB ({self.budget.source}) "
                f"even with every saver ({tried}): short by {over:,.0f} MiB; largest: "
                f"{largest}; disable optional modules, shorten data.max_tokens (or the longest "
                f"[[data.sources]] max_tokens){freeze} or use a "
                f"larger GPU")


def target_device(config: Config, resolved: str | None = None) -> str:
    """What the plan is for: the run's device, else CUDA unless the profile says cpu."""
    if resolved:
        return resolved
    return "cpu" if config.train.device == "cpu" else "cuda"


def resolve_budget(config: Config, device: str, budget_gb: float | None = None) -> Budget:
    if budget_gb is not None:
        if not math.isfinite(budget_gb):   # typer's min=0.01 lets inf through (nan fails it)
            raise RedHeartError(f"--budget-gb {budget_gb:g}: expected a finite number of GiB "
                                f">= 0.01, e.g. --budget-gb 24; omit it to plan for GPU 0's "
                                f"free memory")
        return Budget(round(budget_gb * GIB), f"--budget-gb {budget_gb:g}")
    if config.memory.budget_gb > 0:
        return Budget(round(config.memory.budget_gb * GIB),
                      f"memory.budget_gb = {config.memory.budget_gb:g}")
    if device == "cpu":
        return Budget(None, "training on CPU: no GPU budget to fit (set --budget-gb or "
                            "memory.budget_gb to plan for a GPU)")
    from redheart.memory.nvml import default_nvml

    nvml = default_nvml()
    free = nvml.first_gpu_free_bytes()
    if free is None:
        return Budget(None, f"{nvml.sample().state}; no budget given (set --budget-gb or "
                            f"memory.budget_gb)")
    return Budget(free, "free memory of GPU 0 (NVML)")


def _saver_on(config: Config, name: str, device: str) -> bool:
    m = config.memory
    return {
        "bf16_autocast": uses_bf16(config, device),
        "fused_adamw": m.fused_adamw and device == "cuda",
        "activation_checkpointing": m.activation_checkpointing,
        "adamw_8bit": m.optimizer == "adamw8bit",
        "offload_analyzer_optimizer": m.offload_analyzer_optimizer,
        "micro_batch": False,
    }[name]


def _unavailable(name: str, device: str, strategy: str = "none") -> str | None:
    if device != "cuda" and name != "micro_batch":
        return "a GPU saver (the run is on CPU)"
    if strategy == "fsdp2" and name in ("adamw_8bit", "offload_analyzer_optimizer"):
        return "FSDP2 shards the optimizer state instead"
    if name == "adamw_8bit" and importlib.util.find_spec("bitsandbytes") is None:
        return "bitsandbytes is not installed (pip install bitsandbytes)"
    return None


def _apply(config: Config, name: str) -> Config:
    t, m = config.train, config.memory
    if name == "bf16_autocast":
        return dataclasses.replace(config, train=dataclasses.replace(t, precision="bf16"))
    field = {"fused_adamw": ("fused_adamw", True),
             "activation_checkpointing": ("activation_checkpointing", True),
             "adamw_8bit": ("optimizer", "adamw8bit"),
             "offload_analyzer_optimizer": ("offload_analyzer_optimizer", True)}[name]
    return dataclasses.replace(config, memory=dataclasses.replace(m, **{field[0]: field[1]}))


def _scope(config: Config, step: SaverStep) -> SaverStep:
    """The step, with what its saver leaves alone said in its detail: activation
    checkpointing recomputes the backbone's layers, never a trained encoder's, whose
    activations the forecast therefore keeps in full."""
    if step.name != "activation_checkpointing" or not config.data.encoder_trainable:
        return step
    note = "backbone layers only: the trained encoder keeps its activations"
    return dataclasses.replace(step, detail="; ".join(filter(None, (step.detail, note))))


def _smaller_micro_batch(config: Config) -> Config | None:
    """Half the rows per forward pass (a divisor of batch_size), the same effective batch."""
    batch = config.train.batch_size
    rows = step_shape(config).rows_per_forward
    for smaller in range(rows // 2 or 1, 0, -1):
        if batch % smaller == 0 and smaller < rows:
            return dataclasses.replace(config, memory=dataclasses.replace(
                config.memory, micro_batch=smaller))
    return None


def _shrink_micro_batch(config: Config, total_of: Callable[[Config], int],
                        budget: int) -> tuple[Config, bool, SaverStep]:
    """Halve the micro-batch while that lowers the forecast, until it fits.

    Accumulation keeps every gradient alive while the next micro-batch runs
    forward, so a smaller micro-batch only helps when activations outweigh
    gradients; when it does not help, the config is left as it was.
    """
    best, best_total = config, total_of(config)
    candidate = config
    while best_total > budget and (candidate := _smaller_micro_batch(candidate)) is not None:
        total = total_of(candidate)
        if total < best_total:
            best, best_total = candidate, total
    if best is config:
        return config, False, SaverStep("micro_batch", "no gain", "gradients kept across "
                                        "micro-batches outweigh the activations saved")
    shape = step_shape(best)
    return best, best_total <= budget, SaverStep(
        "micro_batch", "applied",
        f"{shape.rows_per_forward} rows x {shape.accumulation_steps} accumulation steps",
        best_total)


def _raise_micro_batch(config: Config, total_of: Callable[[Config], int], budget: int,
                       ranks: int) -> tuple[Config, SaverStep | None]:
    """The most rows per forward pass that still fit, when the profile accumulates.

    A forward pass launches the same operators whatever its rows
    (`bench/step_ops.py` counts them), and an eager GPU step is bound by
    those launches: a profile that accumulates 4 x 4 (written for a smaller
    card) pays them four times on a card that could take 16 rows at once.
    The effective batch is unchanged; what differs is rounding, and the MoE
    balance term, which is taken per forward pass.
    """
    shape = step_shape(config, ranks)
    if shape.accumulation_steps == 1:
        return config, None
    batch = config.train.batch_size
    for rows in range(batch, shape.rows_per_forward, -1):    # the largest first
        if batch % rows:
            continue
        candidate = dataclasses.replace(config, memory=dataclasses.replace(
            config.memory, micro_batch=rows))
        total = total_of(candidate)
        if total <= budget:
            raised = step_shape(candidate, ranks)
            return candidate, SaverStep(
                "micro_batch", "raised",
                f"{raised.rows_per_forward} rows x {raised.accumulation_steps} accumulation "
                f"steps instead of {shape.rows_per_forward} x {shape.accumulation_steps}: "
                f"the budget has room", total)
    return config, None


def plan(config: Config, device: str, budget: Budget, ranks: int = 1,
         strategy: str = "none") -> Plan:
    """Apply savers in order until the forecast (per rank in a multi-process job) fits."""

    def forecast_of(candidate: Config) -> Forecast:
        return forecast(candidate, device, ranks, strategy)

    before = forecast_of(config)
    current, steps = config, []
    fits = budget.bytes is None or before.total <= budget.bytes
    for name in SAVERS:
        if _saver_on(current, name, device):
            steps.append(SaverStep(name, "on in the profile"))
            continue
        if fits or not config.memory.auto_savers:
            steps.append(SaverStep(name, "not needed" if fits else "off (auto_savers = false)"))
            continue
        reason = _unavailable(name, device, strategy)
        if reason:
            steps.append(SaverStep(name, "unavailable", reason))
            continue
        if name == "micro_batch":
            current, fits, step = _shrink_micro_batch(
                current, lambda c: forecast_of(c).total, budget.bytes)
            steps.append(step)
            continue
        current = _apply(current, name)
        total = forecast_of(current).total
        steps.append(SaverStep(name, "applied", "", total))
        fits = total <= budget.bytes
    untouched = next(step.status == "not needed" for step in steps if step.name == "micro_batch")
    # An explicit [memory] micro_batch is the profile's own choice (memory, or matching a
    # reference run); grad_accum alone says how a smaller card had to split the batch.
    if fits and untouched and device == "cuda" and config.memory.auto_savers and \
            not config.memory.micro_batch and budget.bytes is not None:
        current, raised = _raise_micro_batch(current, lambda c: forecast_of(c).total,
                                             budget.bytes, ranks)
        if raised is not None:
            steps = [raised if step.name == "micro_batch" else step for step in steps]
    return Plan(current, device, budget, before, forecast_of(current),
                tuple(_scope(config, step) for step in steps))


def plan_for(config: Config, device: str | None = None, budget_gb: float | None = None,
             world: int = 1, strategy: str = "none") -> Plan:
    """The plan `redheart plan` prints and `redheart run` follows (per rank of `world`)."""
    target = target_device(config, device)
    return plan(config, target, resolve_budget(config, target, budget_gb), world, strategy)
