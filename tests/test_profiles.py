"""The shipped profiles load, list only what differs from defaults, and round-trip."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from redheart.config import SECTIONS, Config
from redheart.config_load import load_profile, parse_profile
from redheart.config_toml import dumps
from redheart.model.catalog import MODULES, OPTIONAL_MODULES, ExecutionMode
from redheart.model.selection import enabled_modules
from tests.conftest import PROFILES

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

SHIPPED = ["quickstart", "local-8gb", "cloud", "cpu-real", "grow-1.3b"]


def test_every_profile_in_the_folder_is_checked_here():
    """A profile added to profiles/ (or one the README lists) is loaded by the tests below."""
    assert sorted(path.stem for path in PROFILES.glob("*.toml")) == sorted(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_profile_lists_only_values_that_differ_from_defaults(name):
    path = PROFILES / f"{name}.toml"
    raw = tomllib.loads(path.read_text())
    load_profile(path)  # valid
    defaults = Config()
    for section, table in raw.items():
        for key, value in table.items():
            default = getattr(getattr(defaults, section), key)
            if isinstance(default, tuple):
                value = tuple(value)
            assert value != default, f"{name}.toml [{section}] {key} repeats the default"


@pytest.mark.parametrize("name", SHIPPED)
def test_profile_round_trips_through_toml(name):
    config = load_profile(PROFILES / f"{name}.toml")
    again = parse_profile(dumps(config), "dumped")
    assert again == config


def test_every_section_is_written_by_dumps():
    text = dumps(Config())
    for section in SECTIONS:
        assert f"[{section}]" in text


def test_local_8gb_builds_every_module_and_quickstart_the_same_structure():
    full = load_profile(PROFILES / "local-8gb.toml").model
    quick = load_profile(PROFILES / "quickstart.toml").model
    every = tuple(spec.name for spec in MODULES)
    assert enabled_modules(full, ExecutionMode.TRAINING) == every
    assert enabled_modules(quick, ExecutionMode.TRAINING) == every
    assert set(full.modules) == set(OPTIONAL_MODULES)


def test_overrides_are_typed_by_the_schema():
    config = load_profile(PROFILES / "quickstart.toml", [
        "train.lr=3e-4", "run.name=bare-word", "model.modules=utilities,emotion_analyzer",
        "train.betas=[0.8, 0.95]", "memory.budget_gb=6", "train.no_param_update=true",
        "data.encoder=\"/models/my encoder\"",
    ])
    assert config.train.lr == 3e-4 and isinstance(config.train.lr, float)
    assert config.run.name == "bare-word"
    assert config.model.modules == ("utilities", "emotion_analyzer")
    assert config.train.betas == (0.8, 0.95)
    assert config.memory.budget_gb == 6.0 and isinstance(config.memory.budget_gb, float)
    assert config.train.no_param_update is True
    assert config.data.encoder == "/models/my encoder"
    # the rest of the profile is untouched
    assert config.model.d_model == 128


def test_later_override_wins():
    config = load_profile(PROFILES / "quickstart.toml", ["train.lr=1e-2", "train.lr=2e-2"])
    assert config.train.lr == 2e-2


def test_config_dataclasses_are_frozen():
    config = load_profile(PROFILES / "quickstart.toml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.train.lr = 1.0  # type: ignore[misc]


def test_a_profile_saved_with_a_byte_order_mark_is_the_same_profile(tmp_path):
    """Some Windows editors start UTF-8 files with U+FEFF; tomllib refuses it as
    "Invalid statement" on line 1."""
    text = (PROFILES / "quickstart.toml").read_text(encoding="utf-8")
    with_bom = tmp_path / "quickstart.toml"
    with_bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    plain = tmp_path / "plain.toml"
    plain.write_text(text, encoding="utf-8")
    assert dumps(load_profile(with_bom)) == dumps(load_profile(plain))
    assert load_profile(with_bom).model.d_model == 128
