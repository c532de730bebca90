"""What a run's config.toml records of its inputs, so validate and --resume read them again
from any working directory."""

from __future__ import annotations


def test_a_run_records_its_local_encoder_as_an_absolute_path(tmp_path, monkeypatch):
    """The run's config.toml kept `encoder = "enc"`: validate or --resume from another
    folder loaded whatever `enc` was there (or nothing), while the data paths were
    anchored."""
    from redheart.config import Config, DataConfig
    from redheart.data.sources import anchor_paths

    monkeypatch.chdir(tmp_path)
    local = anchor_paths(Config(data=DataConfig(encoder="enc")), tmp_path / "profiles")
    assert local.data.encoder == str(tmp_path / "enc")
    bundled = anchor_paths(Config(), tmp_path / "profiles")
    assert bundled.data.encoder == "all-MiniLM-L6-v2"
