"""The encoder cache encodes each text once, per encoder and max_tokens, and spots damage."""

from __future__ import annotations

import json

import numpy as np
import pytest

from redheart.data.bad_rows import DataError
from redheart.data.encode import EncoderCache
from tests.conftest import TEST_TEXTS


@pytest.fixture()
def filled(tmp_path, encoder):
    cache = EncoderCache(tmp_path, "all-MiniLM-L6-v2", encoder.max_tokens)
    assert cache.fill(TEST_TEXTS[:6], batch_size=4, encoder=encoder) == 6
    return tmp_path


def test_second_fill_encodes_nothing_and_states_match_the_encoder(filled, encoder):
    cache = EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens, verify_checksums=True)
    assert len(cache) == 6
    assert cache.fill(TEST_TEXTS[:6] + TEST_TEXTS[:2], encoder=encoder) == 0
    assert cache.fill(TEST_TEXTS[:7], encoder=encoder) == 1          # only the new text
    states, mask = encoder.encode([TEST_TEXTS[3]])
    cached = cache.get(TEST_TEXTS[3])
    assert cached.dtype == np.float16 and cached.shape == (int(mask.sum()), 384)
    assert np.allclose(cached.astype(np.float32), states[0, :cached.shape[0]].numpy(), atol=2e-3)


def test_other_max_tokens_is_a_separate_cache(filled, encoder):
    other = EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens + 1)
    assert len(other) == 0 and TEST_TEXTS[0] not in other


def test_truncated_shard_is_reported_with_the_fix(filled, encoder):
    cache = EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens)
    shard = next(cache.dir.glob("shard-*.f16"))
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"damaged cache shard .* expected .*; delete .* and run "
                                        r"`redheart prepare PROFILE` again"):
        EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens)


def test_corrupted_bytes_fail_the_checksum(filled, encoder):
    cache = EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens)
    shard = next(cache.dir.glob("shard-*.f16"))
    data = bytearray(shard.read_bytes())
    data[100] ^= 0xFF
    shard.write_bytes(bytes(data))
    EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens)      # size is still right
    with pytest.raises(DataError, match="checksum mismatch"):
        EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens, verify_checksums=True)


def test_interrupted_write_is_ignored(filled, encoder):
    cache = EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens)
    (cache.dir / "shard-00099.f16").write_bytes(b"\0" * 100)         # no index: never finished
    again = EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens)
    assert len(again) == 6
    index = json.loads(next(cache.dir.glob("shard-*.json")).read_text())
    assert len(index["entries"]) == 6


def _damage(shard, how: str) -> None:
    data = shard.read_bytes()
    if how == "truncated":
        with shard.open("r+b") as f:            # in place, as `truncate` or a crash does
            f.truncate(len(data) // 2)
    else:
        with shard.open("r+b") as f:            # same size, other bytes
            f.write(bytes(b ^ 0xFF for b in data[:4096]))


@pytest.mark.parametrize("how", ["truncated", "overwritten"])
def test_a_shard_damaged_while_open_stops_the_reader_naming_it(filled, encoder, how):
    """Memory-mapped, a truncated shard killed the reader with SIGBUS and an overwritten one
    fed it other numbers; now the next read refuses both."""
    cache = EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens)
    before = cache.get(TEST_TEXTS[0]).copy()
    shard = next(cache.dir.glob("shard-*.f16"))
    _damage(shard, how)
    with pytest.raises(DataError) as caught:
        cache.features(TEST_TEXTS[:6])
    assert str(caught.value) == (
        f"{shard}: cache shard {how} while this run read it; its token states cannot be "
        f"trusted, so the run stops (its checkpoints are untouched); delete {cache.dir} and "
        f"run `redheart prepare PROFILE` again")
    assert before.shape[1] == 384


def test_an_encoder_stored_in_fp16_runs_in_fp32_and_matches_the_original(tmp_path, encoder):
    """Many published models ship half-precision weights, which transformers keeps as
    stored: the encoder must still hand the model fp32 states."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    from redheart.data.encode import ENCODER_IDENTITY_FILES
    from redheart.data.encoder import TextEncoder

    for name in ENCODER_IDENTITY_FILES:
        shutil.copy2(encoder.path / name, tmp_path / name)
    weights = load_file(str(encoder.path / "model.safetensors"))
    save_file({k: v.half() if v.is_floating_point() else v for k, v in weights.items()},
              str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    half = TextEncoder(str(tmp_path), max_tokens=32)
    assert {p.dtype for p in half.model.parameters()} == {torch.float32}
    states, mask = half.encode(TEST_TEXTS[:4])
    reference, _ = encoder.encode(TEST_TEXTS[:4])
    assert states.dtype == torch.float32
    assert torch.allclose(states[mask], reference[mask], atol=2e-2)


def test_two_fills_at_once_write_separate_shards_and_keep_both(tmp_path, encoder):
    """Two `prepare`s sharing a cache (the default cache_dir is shared by every profile)
    each picked the next shard number, the same one, and wrote into the same file: the
    cache was left damaged for both, and all its states had to be encoded again."""
    first = EncoderCache(tmp_path, "all-MiniLM-L6-v2", encoder.max_tokens)
    second = EncoderCache(tmp_path, "all-MiniLM-L6-v2", encoder.max_tokens)
    started: list[int] = []

    def meanwhile(_done: int, _total: int) -> None:   # the other process, mid-write
        if not started:
            started.append(second.fill(TEST_TEXTS[4:10], batch_size=4, encoder=encoder))
    assert first.fill(TEST_TEXTS[:4], batch_size=2, encoder=encoder, on_progress=meanwhile) == 4
    assert started == [6]
    after = EncoderCache(tmp_path, "all-MiniLM-L6-v2", encoder.max_tokens,
                         verify_checksums=True)
    assert len(after) == 10 and len(list(after.dir.glob("shard-*.json"))) == 2
    states, mask = encoder.encode(TEST_TEXTS[:10])
    for i, text in enumerate(TEST_TEXTS[:10]):
        cached = after.get(text).astype(np.float32)
        assert np.allclose(cached, states[i, :int(mask[i].sum())].numpy(), atol=2e-3), text


def test_a_shard_left_by_a_killed_writer_is_taken_over(filled, encoder):
    """No process holds its lock, so its number is reused rather than left as litter."""
    cache = EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens)
    (cache.dir / "shard-00002.f16").write_bytes(b"\0" * 100)         # killed mid-write
    assert cache.fill(TEST_TEXTS[6:8], encoder=encoder) == 2
    assert sorted(p.name for p in cache.dir.glob("shard-*")) == [
        "shard-00001.f16", "shard-00001.json", "shard-00002.f16", "shard-00002.json"]
    assert len(EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens,
                            verify_checksums=True)) == 8


def test_a_damaged_shard_names_its_own_files_and_only_its_texts_are_encoded_again(
        filled, encoder):
    """The fix said to delete the whole cache folder: every text of that budget encoded
    again (minutes to hours) when one shard was bad."""
    cache = EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens)
    assert cache.fill(TEST_TEXTS[6:9], encoder=encoder) == 3
    second = cache.dir / "shard-00002.f16"
    second.write_bytes(second.read_bytes()[:-2])
    with pytest.raises(DataError) as caught:
        EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens)
    index = second.with_suffix(".json")
    assert str(caught.value) == (
        f"{second}: damaged cache shard ({second.stat().st_size} bytes, expected "
        f"{second.stat().st_size + 2}); delete {second} and {index} (only its texts are "
        f"encoded again) and run `redheart prepare PROFILE` again")
    second.unlink()
    index.unlink()
    again = EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens)
    assert again.fill(TEST_TEXTS[:9], encoder=encoder) == 3
    assert len(EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens,
                            verify_checksums=True)) == 9


def test_an_index_without_entries_is_a_damaged_index_not_a_key_error(filled, encoder):
    cache = EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens)
    index = next(cache.dir.glob("shard-*.json"))
    meta = json.loads(index.read_text())
    del meta["entries"]
    index.write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"shard-00001.json: damaged cache index; delete "):
        EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens)


def test_a_shard_a_live_writer_holds_is_left_alone(filled, encoder):
    """A shard being written (locked, no index yet) is another writer's: this fill takes
    the next number and does not touch a byte of it."""
    import fcntl

    cache = EncoderCache(filled, "all-MiniLM-L6-v2", encoder.max_tokens)
    busy = cache.dir / "shard-00002.f16"
    with busy.open("wb") as writer:
        fcntl.flock(writer, fcntl.LOCK_EX)
        writer.write(b"B" * 100)
        writer.flush()
        assert cache.fill(TEST_TEXTS[6:8], encoder=encoder) == 2
        assert busy.read_bytes() == b"B" * 100
    assert sorted(p.name for p in cache.dir.glob("shard-*")) == [
        "shard-00001.f16", "shard-00001.json", "shard-00002.f16", "shard-00003.f16",
        "shard-00003.json"]
