"""Shared fixtures: real token states from the bundled encoder, a tiny config, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ROOT / "profiles"
SHARED_DATA = Path(os.environ.get("REDHEART_SHARED_DATA", ROOT.parent / "shared" / "data"))

# One intra-op torch thread, in this process and in every `redheart` subprocess a test
# starts (they inherit the environment). Set before torch is first imported, which reads
# it then. The suite's models are tiny, so a second thread buys little, and on a 2-core
# machine that also runs a trainer subprocess (or anything else) its spin-waits made
# training steps 3-15x slower.
os.environ["OMP_NUM_THREADS"] = "1"

# Sentences written for these tests (not from any data set), of different
# lengths so that a batch has real padding.
TEST_TEXTS = [
    "I finally got the job I wanted and I cannot stop smiling.",
    "My landlord kept the whole deposit even though the flat was spotless.",
    "Honestly I don't know what to feel about the move.",
    "The doctor called back and the scan was clear.",
    "I lied to my best friend about why I missed her wedding, and she found out.",
    "Ugh, the bus was late again.",
    "We adopted a rescue dog today and he already sleeps on my feet.",
    "I snapped at my little brother for breaking my headphones, then felt awful.",
    "Nobody told me the meeting was cancelled, so I drove an hour for nothing.",
    "The smell of the rotten fridge made me gag.",
    "Wait, you are moving to Japan next week?",
    "I told my coworker her presentation was great even though it was not.",
    "Grandpa passed away last night.",
    "I refused to lend my car to a friend who had been drinking.",
    "That noise in the attic at 3am scared me half to death.",
    "It was an ordinary Tuesday, nothing happened.",
]


@pytest.fixture(scope="session")
def encoder():
    from redheart.data.encoder import TextEncoder

    return TextEncoder(max_tokens=32)


@pytest.fixture(scope="session")
def real_batch(encoder):
    """(token_states[16,T,384], mask[16,T]) of TEST_TEXTS."""
    states, mask = encoder.encode(TEST_TEXTS)
    assert not bool(mask.all()), "the test texts must produce padding"
    return states, mask


@pytest.fixture(scope="session")
def quickstart_prepared(tmp_path_factory):
    """(config, report) of the embedded sample set's first `prepare`, into a fresh cache:
    every text encoded once per session. A 5M model with every module and real data,
    6 steps, checkpoints every 3."""
    from redheart.config_load import load_profile
    from redheart.data.prepare import prepare

    cache_dir = tmp_path_factory.mktemp("cache")
    config = load_profile(PROFILES / "quickstart.toml", [
        f'data.cache_dir="{cache_dir}"', "train.max_steps=6", "checkpoint.every_steps=3"])
    return config, prepare(config, PROFILES)


@pytest.fixture(scope="session")
def quickstart_data(quickstart_prepared):
    """(config, sources, featurizer) of `quickstart_prepared`."""
    from redheart.data.encode import EncoderCache

    config, report = quickstart_prepared
    featurizer = EncoderCache(config.data.cache_dir, config.data.encoder, config.data.max_tokens)
    return config, report.sources, featurizer


@pytest.fixture()
def tiny_config():
    """Every module on, all widths tiny: the reference structure in milliseconds."""
    from redheart.config import ModelConfig

    return ModelConfig(
        input_dim=384, d_model=32, n_layers=2, n_heads=4, ffn_dim=64, dropout=0.0,
        task_proj_dim=16, adapter_dim=16, pool_dim=16, emotion_base_dim=32, moe_expert_dim=32,
        emotion_level_dim=16, cultural_dim=16, bentham_expert_dim=32, regret_trunk_dim=32,
        regret_view_dim=32, surd_component_dim=32, analyzer_ffn_dim=32,
        emotion_analyzer_blocks=2, bentham_calculator_blocks=2, regret_analyzer_blocks=2,
        surd_analyzer_blocks=1, dsp_channels=4, dsp_filters=8, dsp_kernel=3, dsp_bands=4,
        dsp_hidden=32, kalman_dim=32, fusion_layers=1,
    )


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`redheart ARGS` in a subprocess, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "redheart", *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=120)


def run_here(*args: str) -> subprocess.CompletedProcess:
    """`redheart ARGS` in this process (from the repository root, as `run_cli` runs them),
    answered as `run_cli` answers, warnings printed to stderr as a user would see them.

    For tests of what a command decides and prints: each subprocess paid an interpreter's
    and torch's start-up and the memory plan's dry run, seconds per call. Tests of the
    process itself (signals, its exit status, locks held by another process, torchrun)
    keep `run_cli`.
    """
    from tests.bad_inputs.cases import execute

    previous = os.getcwd()
    os.chdir(ROOT)
    try:
        outcome = execute(["redheart", *args])
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(["redheart", *args], outcome.code, *outcome.printed)


def make_trainer(data, run_dir: Path, **train):
    """A Trainer of `quickstart_data` writing to `run_dir`, with `[train]` overrides."""
    import dataclasses

    from redheart.data.split import split_sources
    from redheart.runs.events import EventWriter
    from redheart.runs.run_dir import prepare_run_dir
    from redheart.train.trainer import Trainer

    config, sources, featurizer = data
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, **train))
    prepare_run_dir(run_dir, config, resuming=False)
    train_sources, eval_sources = split_sources(sources, config.data.eval_fraction)
    events = EventWriter(run_dir / "events.jsonl")
    return Trainer(config, train_sources, eval_sources, featurizer, events, run_dir)
