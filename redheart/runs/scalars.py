"""A run's events as named scalars (`loss/total` at step 120): what TensorBoard, the CSV
export and the plots show, named the same way in each.

Memory samples carry no step of their own: each is put at the newest step
seen before it, as they were taken while that step's work went on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from redheart.units import GIB

STEP_FIELDS = {"lr": "lr", "grad_norm": "grad_norm", "samples_per_s": "throughput/samples_per_s",
               "tokens_per_s": "throughput/tokens_per_s", "mfu": "throughput/mfu"}
TORCH_FIELDS = ("allocated", "reserved", "peak")


@dataclass(frozen=True)
class Scalar:
    tag: str
    step: int
    value: float
    wall_time: float


class ScalarStream:
    """Feed it the events in order; `scalars` gives each one's scalars."""

    def __init__(self) -> None:
        self.step = 0

    def scalars(self, event: dict[str, Any]) -> list[Scalar]:
        kind = event.get("type")
        if isinstance(event.get("step"), int):
            self.step = event["step"]
        wall = event.get("t") if _number(event.get("t")) else 0.0
        return [Scalar(tag, self.step, float(value), wall)
                for tag, value in _values(kind, event) if _number(value)]


def _values(kind: Any, event: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    if kind == "step":
        for task, value in _fields(event, "loss").items():
            yield f"loss/{task}", value
        for field, tag in STEP_FIELDS.items():
            yield tag, event.get(field)
        for module, value in _fields(event, "grad_norm_by_module").items():
            yield f"grad_norm/{module}", value
    elif kind == "eval":
        for metric, value in _fields(event, "metrics").items():
            yield f"eval/{metric}", value
        yield "eval/regret_threshold", event.get("regret_threshold")
    elif kind == "memory":
        yield "memory/rss_gib", _gib(event.get("rss"))
        for field in TORCH_FIELDS:
            yield f"memory/torch_{field}_gib", _gib(_fields(event, "torch").get(field))
        gpus = event.get("gpus")
        for gpu in gpus if isinstance(gpus, list) else []:
            if not isinstance(gpu, dict):
                continue
            index = gpu.get("index")
            yield f"memory/gpu{index}_used_gib", _gib(gpu.get("used"))
            yield f"gpu/{index}_util", gpu.get("util")


def _fields(event: dict[str, Any], key: str) -> dict[str, Any]:
    """`event[key]` when it is an object, else nothing: a line that parses but was not
    written by a run (a script's, a newer schema's) gives no scalars instead of a
    traceback that ends the whole export."""
    value = event.get(key)
    return value if isinstance(value, dict) else {}


def _gib(value: Any) -> float | None:
    return value / GIB if _number(value) else None


def _number(value: Any) -> bool:
    """A number (a bool is not; NaN is, and shows as the run saw it)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
