"""`redheart validate` of a checkpoint whose encoder was fine-tuned (`[data] encoder_trainable`).

The model must be scored on the states of its own fine-tuned encoder (the
weights in the checkpoint's encoder.safetensors), while the probe stays a
baseline on the frozen encoder, as the README defines it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import PROFILES


@pytest.fixture(scope="module")
def finetuned_run(tmp_path_factory) -> Path:
    """Three real steps of the quickstart model with the encoder trained (lr without warmup,
    so the encoder's weights move enough to change what the model predicts)."""
    import torch

    from redheart.cli import main

    root = tmp_path_factory.mktemp("finetuned")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        code = main(["run", str(PROFILES / "quickstart.toml"), "--quiet",
                     "--run-dir", str(root / "run"),
                     "--set", f'data.cache_dir="{root / "cache"}"',
                     "--set", "data.encoder_trainable=true", "--set", "train.max_steps=3",
                     "--set", "train.warmup_steps=0", "--set", "checkpoint.every_steps=3"])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    return root / "run"


def _regret_rows(run: Path):
    from redheart.config_load import load_profile
    from redheart.data.prepare import read_sources
    from redheart.data.split import splits
    from redheart.train.eval_set import EvalSet

    config = load_profile(run / "config.toml")
    sources = read_sources(config, run)
    rows = EvalSet.of(splits(sources, config.data.eval_fraction).dev)
    return rows.texts["regret"], np.asarray(rows.regret)


def test_the_model_is_scored_on_its_fine_tuned_encoder_and_the_probe_on_the_frozen_one(
        finetuned_run, capsys):
    import redheart
    from redheart.cli import main

    assert (finetuned_run / "checkpoints" / "step-00000003" / "encoder.safetensors").is_file()
    cache = finetuned_run.parent / "cache"
    assert not (cache / "states").exists()          # training cached nothing
    code = main(["validate", str(finetuned_run), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out)
    assert (cache / "states").is_dir()               # the probe's frozen states were encoded
    assert "texts into the cache" in captured.err    # ... and said so, off a terminal too
    assert set(result["baselines"]["probe"]) == {"emotion", "regret", "bentham", "surd"}

    texts, targets = _regret_rows(finetuned_run)
    assert len(texts) == result["counts"]["regret"] > 0
    tuned = np.asarray([p["regret"] for p in
                        redheart.load(str(finetuned_run), show_all=True).predict(texts)])
    assert result["metrics"]["regret"]["mae"] == pytest.approx(
        np.mean(np.abs(tuned - targets)), abs=1e-6)

    # The same weights on the bundled, untrained encoder predict something else: so the
    # equality above holds only because validate read the fine-tuned encoder.
    from redheart.data.encoder import TextEncoder

    frozen = redheart.load(str(finetuned_run), show_all=True)
    frozen.encoder = TextEncoder(frozen.source.config.data.encoder, frozen.max_tokens,
                                 truncation=frozen.truncation)
    untuned = np.asarray([p["regret"] for p in frozen.predict(texts)])
    assert abs(np.mean(np.abs(untuned - targets)) - result["metrics"]["regret"]["mae"]) > 1e-5


@pytest.mark.parametrize("case", ["no-weights", "frozen-profile", "other-encoder"])
def test_encoder_weights_that_do_not_match_the_profile_are_one_line(finetuned_run, tmp_path,
                                                                    capsys, case):
    import shutil

    import torch
    from safetensors.torch import save_file

    from redheart.cli import main

    folder = tmp_path / "step"
    shutil.copytree(finetuned_run / "checkpoints" / "step-00000003", folder)
    cache = tmp_path / "cache"        # reading the data would create it (the example store)
    args = ["validate", str(folder), "--profile", str(finetuned_run / "config.toml"),
            "--set", f'data.cache_dir="{cache}"']
    if case == "no-weights":
        (folder / "encoder.safetensors").unlink()
        expected = "holds no encoder.safetensors"
    elif case == "frozen-profile":
        args += ["--set", "data.encoder_trainable=false"]
        expected = "its encoder was fine-tuned (encoder.safetensors)"
    else:
        save_file({"embeddings.word_embeddings.weight": torch.zeros(4, 8)},
                  str(folder / "encoder.safetensors"))
        expected = "encoder.safetensors: does not fit [data] encoder = 'all-MiniLM-L6-v2'"
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert expected in err
    assert not cache.exists()         # refused before any data was read


def test_validate_on_cuda_without_a_gpu_is_one_line(finetuned_run, capsys):
    import torch

    from redheart.cli import main

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible: the refusal cannot be seen here")
    code = main(["validate", str(finetuned_run), "--device", "cuda"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--device cuda: no CUDA GPU is visible" in err
