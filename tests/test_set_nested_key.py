"""`--set` takes the keys `redheart diff` prints, nested tables' included: a loss-weight
sweep is `--set train.task_weights.emotion=2.0`, not a hand-written inline table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redheart.config_load import load_profile
from redheart.errors import ConfigError
from tests.conftest import PROFILES, run_here

QUICKSTART = PROFILES / "quickstart.toml"
FIXED = 'train.loss_weighting="fixed"'


def test_a_nested_key_sets_that_one_weight_and_keeps_the_others():
    config = load_profile(QUICKSTART, [FIXED, "train.task_weights.emotion=2.0",
                                       "train.task_weights.surd=0.5"])
    weights = config.train.task_weights
    assert (weights.emotion, weights.bentham, weights.regret, weights.surd) == (2.0, 1, 1, 0.5)
    assert config.train.lr == 1e-3                     # the rest of [train] as the profile


@pytest.mark.parametrize(("override", "says"), [
    ("train.task_weights.emotio=2.0", "unknown key 'emotio'; did you mean 'emotion'?"),
    ("train.lr.x=1", "[train] lr is a value, not a table; set it as --set train.lr=VALUE"),
    ("train.task_weights.emotion=-1", "--set train.task_weights.emotion=-1: "
                                      "[train.task_weights] emotion = -1: out of range"),
])
def test_a_bad_nested_key_names_the_set_and_the_fix(override, says):
    with pytest.raises(ConfigError) as caught:
        load_profile(QUICKSTART, [FIXED, override])
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_the_key_diff_prints_for_a_weight_is_one_set_accepts(tmp_path: Path):
    """Two runs' resolved configs that differ in a task weight, diffed, and the key
    it names given back to --set."""
    for name, weight in (("a", 1.0), ("b", 2.0)):
        shown = run_here("config", str(QUICKSTART), "--set", FIXED, "--set",
                         f"train.task_weights.emotion={weight}")
        assert shown.returncode == 0, shown.stderr
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.toml").write_text(shown.stdout)
    diff = run_here("diff", str(tmp_path / "a"), str(tmp_path / "b"), "--json")
    [row] = json.loads(diff.stdout)["config"]
    assert row == {"key": "train.task_weights.emotion", "a": 1.0, "b": 2.0}
