"""Every class of profile mistake gives one line naming where and how to fix, exit 2."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli

CASES = [
    # (id, profile text, extra args, expected stderr line)
    ("syntax", "[train]\nlr = 1e-3\nbatch_size = \n", [],
     "error: {p}:3: TOML syntax error: Invalid value; fix the syntax on that line"),
    ("unknown-key", "[train]\nlr = 1e-3\nbatchsize = 4\n", [],
     "error: {p}:3: [train] unknown key 'batchsize'; did you mean 'batch_size'?"),
    ("unknown-section", "[trian]\nlr = 1e-3\n", [],
     "error: {p}:1: unknown section 'trian'; did you mean 'train'?"),
    ("nested-unknown-key", "[train.task_weights]\nemotoin = 2.0\n", [],
     "error: {p}:2: [train.task_weights] unknown key 'emotoin'; did you mean 'emotion'?"),
    ("wrong-type", "[train]\nbatch_size = \"eight\"\n", [],
     "error: {p}:2: [train] batch_size = 'eight': expected an integer >= 1"),
    ("bool-as-int", "[checkpoint]\nevery_steps = true\n", [],
     "error: {p}:2: [checkpoint] every_steps = True: expected an integer >= 1"),
    ("out-of-range", "[train]\n\nbatch_size = 0\n", [],
     "error: {p}:3: [train] batch_size = 0: out of range, expected >= 1"),
    ("out-of-range-float", "[model]\ndropout = 1.5\n", [],
     "error: {p}:2: [model] dropout = 1.5: out of range, expected >= 0 and <= 0.9"),
    ("bad-choice", "[train]\ndevice = \"gpu\"\n", [],
     "error: {p}:2: [train] device = 'gpu': unknown value 'gpu'; valid: auto, cpu, cuda"),
    ("betas", "[train]\nbetas = [0.9, 1.5]\n", [],
     "error: {p}:2: [train] betas = [0.9, 1.5]: expected [beta1, beta2], each >= 0 and < 1"),
    ("unknown-module", "[model]\nmodules = [\"utilties\"]\n", [],
     "error: {p}: [model] modules: unknown module 'utilties'; did you mean 'utilities'?"),
    ("missing-requirement", "[model]\nmodules = [\"kalman_filter\"]\n", [],
     "error: {p}: [model] modules: 'kalman_filter' needs 'emotion_analyzer' (it consumes its "
     "outputs); add 'emotion_analyzer' or remove 'kalman_filter'"),
    ("heads-divide", "[model]\nn_heads = 5\n", [],
     "error: {p}: [model] n_heads = 5 must divide d_model = 768; pick a divisor such as 4 or 6"),
    ("source-kind", "[[data.sources]]\nkind = \"goemotion\"\npath = \"x.tsv\"\n", [],
     "error: {p}:2: [data.sources[0]] kind = 'goemotion': unknown value 'goemotion'; "
     "did you mean 'goemotions'?"),
    ("set-unknown-key", "", ["--set", "train.lrr=3e-4"],
     "error: --set train.lrr=3e-4: [train] unknown key 'lrr'; did you mean 'lr'?"),
    ("set-unknown-section", "", ["--set", "trian.lr=3e-4"],
     "error: --set trian.lr=3e-4: unknown section 'trian'; did you mean 'train'?"),
    ("set-wrong-type", "[train]\nlr = 1e-3\n", ["--set", "train.lr=fast"],
     "error: --set train.lr=fast: [train] lr = 'fast': expected a number > 0 and <= 1"),
    ("set-malformed", "", ["--set", "train.lr"],
     "error: --set train.lr: expected section.key=value, e.g. --set train.lr=3e-4"),
    ("missing-profile", None, [],
     "error: {p}: profile not found; pass the path of a TOML file such as "
     "profiles/quickstart.toml"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_profile_error_is_one_line_exit_2(tmp_path, case):
    _, text, extra, expected = case
    profile = tmp_path / "profile.toml"
    if text is not None:
        profile.write_text(text)
    result = run_cli("config", str(profile), *extra)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [expected.format(p=profile)]
    assert result.stdout == ""


def test_essential_module_disabled_in_training_names_it(tmp_path):
    profile = tmp_path / "p.toml"
    profile.write_text("[model]\ndisabled = [\"regret_analyzer\"]\n")
    result = run_cli("summary", str(profile), "--json")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {profile}: [model] disabled: 'regret_analyzer' cannot be disabled in TRAINING "
        "(regret_analyzer is one of the original system's always-on analyzers); remove it "
        "from [model] disabled"]


def test_debug_shows_the_traceback(tmp_path):
    profile = tmp_path / "p.toml"
    profile.write_text("[train]\nbatch_size = 0\n")
    result = run_cli("config", str(profile), "--debug")
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "ConfigError" in result.stderr


@pytest.mark.parametrize("args, expected", [
    (["config", "profiles/quickstart.toml", "--bogus"],
     "error: No such option: --bogus (see 'redheart config --help')"),
    (["frobnicate"], "error: No such command 'frobnicate'. (see 'redheart --help')"),
])
def test_cli_misuse_is_one_line_exit_2(args, expected):
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [expected]
