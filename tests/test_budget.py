"""The 330M parameter budget of docs/architecture.md §6, counted on the meta device."""

from __future__ import annotations

import json

import pytest

from redheart.config_load import load_profile
from redheart.model.catalog import BACKBONE_PARTS, MODULES
from redheart.model.summary import model_summary
from tests.conftest import PROFILES, run_here

BUDGET = {spec.name: spec.budget_params for spec in BACKBONE_PARTS + MODULES}


@pytest.fixture(scope="module")
def local_8gb_768():
    config = load_profile(PROFILES / "local-8gb.toml", ["model.input_dim=768"])
    return model_summary(config.model)


def test_every_module_is_within_5_percent_of_its_budget(local_8gb_768):
    rows = {row["name"]: row for row in local_8gb_768["modules"]}
    assert set(rows) == set(BUDGET)
    for name, figure in BUDGET.items():
        params = rows[name]["params"]
        assert abs(params / figure - 1) <= 0.05, f"{name}: {params:,} vs {figure:,}"


def test_total_is_between_323m_and_337m(local_8gb_768):
    assert all(row["enabled"] for row in local_8gb_768["modules"])
    total = local_8gb_768["total_params"]
    assert 323_000_000 <= total <= 337_000_000
    assert total == sum(row["params"] for row in local_8gb_768["modules"])


def test_summary_json_through_the_cli():
    result = run_here("summary", "profiles/local-8gb.toml", "--json",
                      "--set", "model.input_dim=768")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"total_params", "modules"}
    assert 323_000_000 <= data["total_params"] <= 337_000_000
    for row in data["modules"]:
        assert set(row) == {"name", "group", "params", "essential", "enabled"}
        assert row["group"] in {"backbone", "head", "analyzer", "auxiliary"}


def test_disabling_a_module_removes_its_parameters_from_the_total():
    result = run_here("summary", "profiles/local-8gb.toml", "--json",
                      "--set", "model.modules=[\"emotion_analyzer\", \"utilities\"]")
    data = json.loads(result.stdout)
    rows = {row["name"]: row for row in data["modules"]}
    assert not rows["dsp_simulator"]["enabled"] and not rows["kalman_filter"]["enabled"]
    assert rows["dsp_simulator"]["params"] > 9_000_000  # what enabling it would cost
    assert data["total_params"] == sum(r["params"] for r in data["modules"] if r["enabled"])
    assert data["total_params"] < 329_000_000 - rows["dsp_simulator"]["params"]


def test_summary_table_is_printed(tmp_path):
    result = run_here("summary", "profiles/quickstart.toml")
    assert result.returncode == 0, result.stderr
    assert "emotion_analyzer" in result.stdout and "total (enabled)" in result.stdout
