"""Read a TOML profile into a `Config`, every key checked against the schema.

Unknown keys, wrong types and out-of-range values are one-line
`ConfigError`s that name the file, the line (or the `--set` that gave the
value) and the fix, because a typo silently ignored costs a user a whole
run. The schema itself, each field's type and range, is `redheart.config`;
writing a `Config` back as TOML is `redheart.config_toml`.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redheart.config import SECTIONS, Config, validate
from redheart.errors import ConfigError, unknown_name
from redheart.profile_text import KeyLines

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib


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
            raise ConfigError(unknown_name(f"{source}:{line}" if line else source,
                                           "section", name, SECTIONS))
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: '{name}' must be a [{name}] table")
        sections[name] = _build(SECTIONS[name], table, _Where(source, lines, (name,), origins))
    config = Config(**sections, source=source)
    try:
        validate(config)
    except ConfigError as exc:
        raise ConfigError(_located(str(exc), _Where(source, lines, (), origins))) from None
    return config


def _located(message: str, where: _Where) -> str:
    """A cross-field error, moved from the profile's name to the key's line or `--set`.

    The checks in `config.validate` see only the built Config, which has no
    line numbers and does not know which value came from the command line;
    their messages start "SOURCE: [section] key", which is enough to find both.
    """
    found = re.match(rf"{re.escape(where.source)}: \[(\w+)\] (\w+)", message)
    if found is None:
        return message
    section, key = found.groups()
    return where.child(section).location(key) + message[len(where.source):]


def _apply_override(raw: dict, override: str) -> tuple[str, str]:
    """Merge one `section.key=value` (or `section.table.key=value`, a key of a nested
    table such as `train.task_weights.emotion`, as `redheart diff` names it) into the
    parsed profile; -> (table, key), the table dotted ("train", "train.task_weights")."""
    where = f"--set {override}"
    key, sep, value_text = override.partition("=")
    parts = key.strip().split(".")
    if not sep or len(parts) not in (2, 3) or not all(parts):
        raise ConfigError(f"{where}: expected section.key=value (or section.table.key=value), "
                          f"e.g. --set train.lr=3e-4")
    section, name = parts[:2]
    if section not in SECTIONS:
        raise ConfigError(unknown_name(where, "section", section, SECTIONS))
    names = {f.name for f in dataclasses.fields(SECTIONS[section])}
    if name not in names:
        raise ConfigError(unknown_name(f"{where}: [{section}]", "key", name, names))
    kind = _field_type(SECTIONS[section], name)
    if len(parts) == 2:
        raw.setdefault(section, {})[name] = _parse_override_value(value_text.strip(), kind)
        return section, name
    if not dataclasses.is_dataclass(kind):
        raise ConfigError(f"{where}: [{section}] {name} is a value, not a table; "
                          f"set it as --set {section}.{name}=VALUE")
    subnames = {f.name for f in dataclasses.fields(kind)}
    if parts[2] not in subnames:
        raise ConfigError(unknown_name(f"{where}: [{section}.{name}]", "key", parts[2],
                                       subnames))
    table = raw.setdefault(section, {}).setdefault(name, {})
    if isinstance(table, dict):         # else the profile gave a value: the check names it
        table[parts[2]] = _parse_override_value(value_text.strip(),
                                                _field_type(kind, parts[2]))
    return f"{section}.{name}", parts[2]


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
    """(table, key) -> the `--set` text that gave its value; the table dotted for a nested
    one ("train.task_weights")."""
    index: int | None = None

    def child(self, name: str, index: int | None = None) -> _Where:
        return _Where(self.source, self.lines, (*self.path, name), self.overrides, index)

    def location(self, key: str) -> str:
        """`file:line` of a key, or the `--set` that overrode it."""
        table = ".".join(self.path)
        if self.index is None and (table, key) in self.overrides:
            return f"--set {self.overrides[(table, key)]}"
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
            raise ConfigError(unknown_name(f"{where.location(key)}: [{where.table}]", "key", key,
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
            raise ConfigError(unknown_name(shown + ":", "value", value, choices))
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
