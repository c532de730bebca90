"""A resolved config as dotted keys (`train.lr`), and a value as a profile spells it.

How `--resume` names what changed since a checkpoint and how `redheart diff`
names what differs between two runs; torch-free, so comparing two runs'
configs is instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def flat_config(table: dict[str, Any]) -> dict[str, Any]:
    """A parsed config as dotted keys; a source's fields as `data.sources[i].field`."""
    return dict(_flatten(table))


def _flatten(table: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            yield from _flatten(value, f"{key}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            yield f"{key}.count", len(value)
            for index, item in enumerate(value):
                yield from _flatten(item, f"{key}[{index}].")
        else:
            yield key, value


def spell_value(value: Any) -> str:
    """A value as the profile spells it."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
