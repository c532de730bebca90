"""Write a resolved Config back as TOML.

A run directory keeps the exact configuration it ran with, and
`redheart config` shows what a profile plus overrides resolves to; both need
the full config as a profile that `load_profile` reads back unchanged.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from redheart.config import SECTIONS, Config


def dumps(config: Config) -> str:
    """Every section and key, defaults included, in schema order."""
    lines: list[str] = []
    for section in SECTIONS:
        _table(lines, (section,), getattr(config, section))
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(lines: list[str], path: tuple[str, ...], value: Any) -> None:
    scalars, tables, arrays = [], [], []
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        if dataclasses.is_dataclass(item):
            tables.append((f.name, item))
        elif isinstance(item, tuple) and item and dataclasses.is_dataclass(item[0]):
            arrays.append((f.name, item))
        else:
            scalars.append(f"{f.name} = {_value(item)}")
    lines.append(f"\n[{'.'.join(path)}]")
    lines.extend(scalars)
    for name, item in tables:
        _table(lines, (*path, name), item)
    for name, items in arrays:
        for item in items:
            lines.append(f"\n[[{'.'.join((*path, name))}]]")
            lines.extend(f"{f.name} = {_value(getattr(item, f.name))}"
                         for f in dataclasses.fields(item))


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")
