"""`redheart grow`: exact 4x growth (HyperCloning), symmetry-breaking noise, training on."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from safetensors.torch import load_file

from redheart.config import Config, ModelConfig
from redheart.config_load import load_profile
from redheart.data.split import split_sources
from redheart.model.catalog import ExecutionMode
from redheart.model.grow.hyperclone import (
    KEPT_FIELDS,
    WIDTH_FIELDS,
    grow_model,
    grow_state_dict,
    grown_config,
)
from redheart.model.grow.verify import output_deltas
from redheart.model.summary import model_summary
from redheart.model.unified import UnifiedModel
from redheart.runs.checkpoints import TrainState, load_checkpoint, save_checkpoint
from redheart.train.trainer import Trainer
from tests.conftest import PROFILES

EXACT = 1e-5
"""fp32 rounding of the two widths' sums stays around 1e-7; a wrong clone is > 1e-2."""


def perturbed(cfg: ModelConfig, seed: int = 0) -> UnifiedModel:
    """A small model with every parameter moved off its init (LayerNorms not 1/0, biases
    and the Kalman transition not 0), so no rule is tested against trivial zeros."""
    torch.manual_seed(seed)
    model = UnifiedModel(cfg)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1 * torch.randn_like(param))
    return model.eval()


def deltas(small: UnifiedModel, grown: UnifiedModel, batch) -> dict[str, float]:
    return output_deltas(small, grown, [batch])


@pytest.mark.parametrize("options", [
    {}, {"snr_db": 20.0}, {"new_layers": 3}, {"factor": 9},
], ids=["plain", "noise-20dB", "new-layers", "factor-9"])
def test_grown_model_computes_every_output_of_the_small_one(tiny_config, real_batch, options):
    small = perturbed(tiny_config)
    grown = grow_model(small, **options)
    copies = 3 if options.get("factor") == 9 else 2
    assert grown.config.d_model == copies * tiny_config.d_model
    assert grown.config.n_heads == copies * tiny_config.n_heads
    assert grown.config.n_layers == tiny_config.n_layers + options.get("new_layers", 0)
    found = deltas(small, grown, real_batch)
    assert found.keys() >= {"emotion_logits", "moe_router_probs", "emotion_uncertainty",
                            "analyzer/surd", "head/regret_views", "bentham_ethics_gate"}
    assert max(found.values()) < EXACT, found


def test_exact_without_the_optional_modules(tiny_config, real_batch):
    """The emotion analyzer reads no DSP features and fuses by its own gate here."""
    small = perturbed(dataclasses.replace(tiny_config, modules=()))
    assert max(deltas(small, grow_model(small, snr_db=10.0), real_batch).values()) < EXACT


def test_cloning_packed_qkv_as_one_block_would_be_caught(tiny_config, real_batch):
    """Tiling in_proj [3d, d] whole gives [q,k,v,q,k,v]: key rows land in query heads."""
    small = perturbed(tiny_config)
    _, state = grow_state_dict(small, 4)
    for key, value in small.state_dict().items():
        if key.endswith("in_proj_weight"):
            state[key] = torch.cat([value, value], 0).repeat(1, 2) / 2
        elif key.endswith("in_proj_bias"):
            state[key] = torch.cat([value, value], 0)
    naive = UnifiedModel(grown_config(tiny_config, 2))
    naive.load_state_dict(state)
    assert max(deltas(small, naive, real_batch).values()) > 1e-2


def test_router_sends_every_example_to_the_same_experts(tiny_config, real_batch):
    small = perturbed(tiny_config)
    grown = grow_model(small, snr_db=20.0)
    chosen = {}
    for name, model in (("small", small), ("grown", grown)):
        model.emotion_head.moe.register_forward_hook(
            lambda _m, _i, out, name=name: chosen.__setitem__(name, out.chosen))
        with torch.no_grad():
            model(*real_batch)
    assert torch.equal(chosen["small"], chosen["grown"])
    assert chosen["small"].unique().numel() > 1  # the batch really is routed apart


def test_noise_makes_the_copies_differ(tiny_config):
    small = perturbed(tiny_config)
    d = tiny_config.d_model
    for snr, differ in ((None, False), (20.0, True)):
        _, state = grow_state_dict(small, 4, snr_db=snr)
        w = state["backbone.transformer.layers.0.linear1.weight"]   # [2 ffn, 2 d]
        rows, cols = w.shape[0] // 2, d
        assert (not torch.equal(w[:rows], w[rows:])) is differ      # output copies
        assert (not torch.equal(w[:, :cols], w[:, cols:])) is differ  # input copies
        small_w = small.state_dict()["backbone.transformer.layers.0.linear1.weight"]
        assert torch.allclose(w[:rows, :cols] + w[:rows, cols:], small_w, atol=1e-6)
    noisy = state["backbone.transformer.layers.0.linear1.weight"][:rows, :cols]
    clean = small_w / 2
    snr_db = 20 * torch.log10(clean.std() / (noisy - clean).std())
    assert 18.0 < float(snr_db) < 22.0


def test_every_config_width_is_either_grown_or_kept():
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    assert set(WIDTH_FIELDS) | set(KEPT_FIELDS) == fields
    assert not set(WIDTH_FIELDS) & set(KEPT_FIELDS)


def test_grown_local_8gb_model_is_1_3b_and_matches_the_grow_profile():
    small = load_profile(PROFILES / "local-8gb.toml").model
    grown = grown_config(small, 2)
    total = model_summary(grown)["total_params"]
    assert 1.30e9 <= total <= 1.34e9
    assert 3.9 < total / model_summary(small)["total_params"] < 4.0
    profile = load_profile(PROFILES / "grow-1.3b.toml")
    assert profile.model == grown
    assert profile.train.init_from and profile.train.device == "cuda"


def test_grown_model_trains_and_its_loss_falls(quickstart_data, tiny_config):
    base, sources, featurizer = quickstart_data
    train, held_out = split_sources(sources, base.data.eval_fraction)
    small_config = dataclasses.replace(
        base, model=tiny_config,
        train=dataclasses.replace(base.train, max_steps=30, warmup_steps=3, lr=3e-3))
    small = Trainer(small_config, train, held_out, featurizer)
    _, state = grow_state_dict(small.model, 4, snr_db=20.0)
    grown_cfg = dataclasses.replace(small_config, model=grown_config(tiny_config, 2))
    grown = Trainer(grown_cfg, train, held_out, featurizer)
    grown.model.load_state_dict(state)
    before = grown.evaluate()["loss"]
    assert before == pytest.approx(small.evaluate()["loss"], abs=1e-4)  # exact on real data
    history = grown.fit().history
    assert len(history) == 30 and all(math.isfinite(x) for x in history)
    assert grown.evaluate()["loss"] < 0.95 * before   # held-out loss, 5.70 -> 5.18 here


@pytest.fixture()
def tiny_checkpoint(tmp_path, quickstart_data, tiny_config):
    """A checkpoint of the tiny model whose config.toml reads the embedded sample set."""
    base, _, _ = quickstart_data
    config: Config = dataclasses.replace(base, model=tiny_config)
    model = perturbed(tiny_config)
    root = tmp_path / "run" / "checkpoints"
    root.mkdir(parents=True)
    optimizer = torch.optim.AdamW(model.parameters())
    state = TrainState(step=7, trained_rows={"emotion": 40, "regret": 12},
                       regret_threshold=0.17)
    return save_checkpoint(root, model, optimizer, state, config, {}, False, 1), model


def test_grown_checkpoint_keeps_what_describes_the_function(tmp_path, tiny_checkpoint):
    """A function verified identical must decide identically: the calibrated WRONG
    threshold and the trained rows travel with the weights (not 0.5 and 'untrained')."""
    from redheart.cli import main
    from redheart.inference.model_source import open_model

    checkpoint, _ = tiny_checkpoint
    out = tmp_path / "grown"
    assert main(["grow", str(checkpoint), "--out", str(out), "--json"]) == 0
    small, grown = open_model(checkpoint), open_model(out / "checkpoints" / "step-00000000")
    assert grown.regret_threshold == small.regret_threshold == pytest.approx(0.17)
    assert grown.trained_rows == small.trained_rows == {"emotion": 40, "regret": 12}
    assert grown.step == 0


def test_grow_command_writes_a_checkpoint_and_profile_that_train_on(tmp_path, tiny_checkpoint,
                                                                    capsys):
    from redheart.cli import main
    from redheart.render.run_progress import RunReporter
    from redheart.train.run import run_training

    checkpoint, small = tiny_checkpoint
    out = tmp_path / "grown"
    code = main(["grow", str(checkpoint), "--out", str(out), "--verify", "--noise-db", "20"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "moe_router_probs" in printed and "max |delta| over all outputs" in printed
    grown_dir = out / "checkpoints" / "step-00000000"
    assert not (grown_dir / "optimizer.pt").exists()
    profile = load_profile(out / "profile.toml")
    assert profile.model == grown_config(small.config, 2)
    assert profile.train.init_from == "checkpoints/step-00000000"
    model = UnifiedModel(profile.model, ExecutionMode.EVALUATION)
    state, meta = load_checkpoint(grown_dir, model, None)
    assert state.step == 0 and meta["metrics"]["factor"] == 4
    assert max(meta["metrics"]["max_abs_delta"].values()) < 1e-4

    # init_from: the run starts from exactly these weights, at step 0.
    config = load_profile(out / "profile.toml", ["train.max_steps=1",
                                                 "train.no_param_update=true"])
    run_training(config, out, RunReporter(quiet=True), tmp_path / "run2")
    trained = load_file(str(tmp_path / "run2" / "checkpoints" / "step-00000001" /
                            "model.safetensors"))
    start = load_file(str(grown_dir / "model.safetensors"))
    assert trained.keys() == start.keys()
    assert all(torch.equal(trained[k], start[k]) for k in start)

    # Killed before its first event: `--resume last` starts again from init_from, read
    # relative to the profile's folder (not the working directory).
    (tmp_path / "run3" / "checkpoints").mkdir(parents=True)
    run_training(config, out, RunReporter(quiet=True), tmp_path / "run3", resume="last")
    again = load_file(str(tmp_path / "run3" / "checkpoints" / "step-00000001" /
                          "model.safetensors"))
    assert all(torch.equal(again[k], start[k]) for k in start)


def test_resuming_the_grown_checkpoint_is_refused_in_one_line_only(tmp_path, tiny_checkpoint,
                                                                   capsys):
    """It has no optimizer state. The refusal is the whole answer: no `run directory`
    line on stdout before it (the run never started)."""
    from redheart.cli import main

    checkpoint, _ = tiny_checkpoint
    out = tmp_path / "grown"
    assert main(["grow", str(checkpoint), "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    code = main(["run", str(out / "profile.toml"), "--resume",
                 str(out / "checkpoints" / "step-00000000")])
    printed = capsys.readouterr()
    assert code == 2 and printed.out == "", printed.out
    assert printed.err.count("\n") == 1 and "holds model weights only" in printed.err


def test_grown_profile_drops_the_small_runs_caps_and_lowers_the_lr(tmp_path, quickstart_data,
                                                                   tiny_config):
    """A smoke-tested small run (`--samples 24 --set train.max_steps=4`) must not cap the
    grown run, and the grown model continues at a quarter of the small model's LR."""
    from redheart.cli import main

    base, _, _ = quickstart_data
    sources = tuple(dataclasses.replace(s, limit=24) for s in base.data.sources)
    config = dataclasses.replace(
        base, model=tiny_config, data=dataclasses.replace(base.data, sources=sources),
        train=dataclasses.replace(base.train, max_steps=4, lr=1e-3))
    root = tmp_path / "run" / "checkpoints"
    root.mkdir(parents=True)
    model = perturbed(tiny_config)
    checkpoint = save_checkpoint(root, model, torch.optim.AdamW(model.parameters()),
                                 TrainState(step=4), config, {}, False, 1)
    out = tmp_path / "grown"
    assert main(["grow", str(checkpoint), "--out", str(out), "--json"]) == 0
    profile = load_profile(out / "profile.toml")
    assert [s.limit for s in profile.data.sources] == [0] * len(sources)
    assert profile.train.max_steps == 0
    assert profile.train.lr == pytest.approx(2.5e-4)
    assert profile.train.eta_min <= profile.train.lr
    assert profile.train.warmup_steps == base.train.warmup_steps   # the rest is the small run's
    assert profile.run.name == f"{base.run.name}-x4"       # `redheart runs` tells them apart
    header = (out / "profile.toml").read_text().split("\n[")[0]
    assert f"[run] name = '{base.run.name}-x4'" in header
    assert "lr = 0.25 x the small run's 0.001" in header
    assert "max_steps = 4" in header
    assert "data.sources[0] limit = 24, data.sources[1] limit = 24" in " ".join(
        line.lstrip("# ") for line in header.splitlines())


@pytest.mark.parametrize("args, message", [
    (["--noise-db", "-60"], "--noise-db -60: the SNR must be a finite number of dB > 0"),
    (["--noise-db", "-5"], "--noise-db -5: the SNR must be a finite number of dB > 0"),
    (["--noise-db", "0"], "--noise-db 0: the SNR must be a finite number of dB > 0"),
    (["--noise-db", "nan"], "--noise-db nan: the SNR must be a finite number of dB > 0"),
    (["--noise-db", "inf"], "--noise-db inf: the SNR must be a finite number of dB > 0"),
    (["--factor", "8"], "--factor 8: the factor must be a perfect square >= 4"),
    (["--factor", "1"], "--factor 1: the factor must be a perfect square >= 4"),
], ids=["noise-60dB", "noise-5dB", "noise-0dB", "noise-nan", "noise-inf", "not-a-square",
        "no-growth"])
def test_unsupported_factor_or_noise_is_one_line_and_exit_2(tmp_path, tiny_checkpoint, capsys, args,
                                                   message):
    from redheart.cli import main

    checkpoint, _ = tiny_checkpoint
    code = main(["grow", str(checkpoint), "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_missing_checkpoint_and_used_out_dir_are_one_line_errors(tmp_path, tiny_checkpoint,
                                                                  capsys):
    from redheart.cli import main

    checkpoint, _ = tiny_checkpoint
    assert main(["grow", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert f"{tmp_path / 'nope'}: no such checkpoint; pass a checkpoints/step-N folder" in \
        capsys.readouterr().err
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    assert main(["grow", str(checkpoint), "--out", str(tmp_path / "used")]) == 2
    assert "already exists and is not an empty folder" in capsys.readouterr().err
    assert (tmp_path / "used" / "keep.txt").read_text() == "mine"


def test_init_from_a_folder_that_is_no_checkpoint_is_refused_before_writing(tmp_path, capsys):
    from redheart.cli import main

    code = main(["run", "profiles/quickstart.toml", "--set", f"train.init_from={tmp_path}",
                 "--run-dir", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert f"[train] init_from = '{tmp_path}': {tmp_path}: not a checkpoint (no state.json) " \
           f"nor a run directory (no checkpoints/)" in err
    assert not (tmp_path / "run").exists()


def test_init_from_another_architecture_is_refused_before_writing(tmp_path, tiny_checkpoint,
                                                                  capsys):
    """The tiny checkpoint's widths are not quickstart's: the modules are named, and the
    run directory is never made (the shapes come from the safetensors header)."""
    from redheart.cli import main

    checkpoint, _ = tiny_checkpoint
    code = main(["run", "profiles/quickstart.toml", "--set", f"train.init_from={checkpoint}",
                 "--run-dir", str(tmp_path / "run2"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "another architecture; modules that differ: " in err and "backbone" in err
    assert not (tmp_path / "run2").exists()
