"""`[data] encoder_trainable`: token-id batches, no cache, gradient reaches the encoder."""

from __future__ import annotations

import torch

from redheart.config_load import load_profile
from redheart.data.batching import BatchPlan, collate_examples, source_lengths
from redheart.data.encoder import TokenFeaturizer
from redheart.data.prepare import prepare
from redheart.model.unified import UnifiedModel
from tests.conftest import PROFILES


def test_prepare_caches_nothing_when_the_encoder_is_trained(tmp_path):
    config = load_profile(PROFILES / "quickstart.toml",
                          [f'data.cache_dir="{tmp_path}"', "data.encoder_trainable=true"])
    report = prepare(config, PROFILES)
    assert report.encoded == 0 and report.caches == []
    assert not (tmp_path / "states").exists()
    assert len(report.sources[0].examples) == 255          # targets are still derived


def test_token_batches_train_the_encoder(tmp_path, encoder, tiny_config):
    config = load_profile(PROFILES / "quickstart.toml",
                          [f'data.cache_dir="{tmp_path}"', "data.encoder_trainable=true"])
    sources = prepare(config, PROFILES).sources
    featurizer = TokenFeaturizer(config.data.encoder, max_tokens=32)
    plan = BatchPlan(source_lengths(sources, featurizer), [1.0, 0.0], 4, seed=0).epoch(0)
    source, rows = plan[0]
    batch = collate_examples([sources[source].examples[i] for i in rows], featurizer)
    assert batch.inputs.dtype == torch.long and batch.inputs.shape == batch.mask.shape

    encoder_module = encoder.model
    encoder_module.train()
    model = UnifiedModel(tiny_config)
    try:
        states = encoder.states(batch.inputs, batch.mask)
        out = model(states, batch.mask)
        torch.nn.functional.cross_entropy(out["emotion_logits"],
                                          batch.targets["emotion"]).backward()
        grads = [p.grad for p in encoder_module.parameters() if p.requires_grad]
        assert any(g is not None and bool(g.abs().sum() > 0) for g in grads)
    finally:
        encoder_module.eval()
        encoder_module.zero_grad(set_to_none=True)
