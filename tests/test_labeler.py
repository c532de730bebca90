"""LLM labeler mechanics with a tiny randomly initialised local LM built here."""

from __future__ import annotations

import json

import pytest

from redheart.data.labeler import (
    LabelRejected,
    LocalLM,
    build_prompt,
    label_file,
    missing_targets,
    parse_answer,
)

BENTHAM = {k: 0.5 for k in ("intensity", "duration", "certainty", "propinquity", "fecundity",
                            "purity", "extent")}


@pytest.fixture(scope="module")
def tiny_lm_dir(tmp_path_factory):
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from redheart.data.encoder import resolve_encoder_dir

    path = tmp_path_factory.mktemp("tiny-lm")
    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder_dir("all-MiniLM-L6-v2"))
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=tokenizer.vocab_size, n_embd=16, n_layer=1, n_head=2,
                        n_positions=512, bos_token_id=tokenizer.cls_token_id,
                        eos_token_id=tokenizer.sep_token_id)
    GPT2LMHeadModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_prompt_asks_for_exactly_the_missing_keys():
    row = {"text": "I kept the wallet.", "emotion": "fear"}
    keys = missing_targets(row)
    assert keys == ["hedonic_value", "regret", "surd", "bentham"]
    prompt = build_prompt(row["text"], keys)
    assert '"regret": number 0..1' in prompt and '"emotion"' not in prompt
    assert prompt.endswith('Text: "I kept the wallet."\nJSON:')


def test_valid_answer_is_accepted_and_invalid_ones_are_rejected_with_reasons():
    keys = ["regret", "surd"]
    good = ('Sure! {"regret": 0.7, "surd": {"redundant": 0.1, "unique": 0.2, '
            '"synergistic": 0.3, "leak": 0.4}} trailing')
    assert parse_answer(good, "t", keys)["regret"] == 0.7
    cases = {
        "no JSON object in the answer": "I think regret is high",
        "invalid JSON": '{"regret": 0.7, ',
        "keys differ from the request": '{"regret": 0.7}',
        "regret: 1.7 is out of range [0, 1]": '{"regret": 1.7, "surd": {"redundant": 0.1, '
                                             '"unique": 0.2, "synergistic": 0.3, "leak": 0.4}}',
        "surd: components sum to 2.0000, expected 1": '{"regret": 0.2, "surd": {"redundant": '
                                                      '0.5, "unique": 0.5, "synergistic": 0.5, '
                                                      '"leak": 0.5}}',
    }
    for reason, answer in cases.items():
        with pytest.raises(LabelRejected, match=reason.replace("[", r"\[").replace("]", r"\]")):
            parse_answer(answer, "t", keys)


def test_label_file_rejects_garbage_and_caches_answers(tmp_path, tiny_lm_dir):
    source = tmp_path / "rows.jsonl"
    complete = {"text": "We laughed.", "emotion": "joy", "bentham": BENTHAM,
                "votes": {"AUTHOR": 0, "OTHER": 1, "EVERYBODY": 0, "NOBODY": 4, "INFO": 0}}
    source.write_text(json.dumps({"text": "I yelled at my dog."}) + "\n"
                      + json.dumps(complete) + "\n")
    lm = LocalLM(tiny_lm_dir, max_new_tokens=12)
    report = label_file(source, lm, tmp_path / "out", tmp_path / "cache")
    assert lm.calls == 1                         # the complete row needs no model call
    assert report.complete == 1 and report.filled == 0
    assert len(report.rejected) == 1 and report.rejected[0].startswith(f"{source}:1: ")
    rows = [json.loads(line) for line in report.output.read_text().splitlines()]
    assert rows[0] == {"text": "I yelled at my dog."}   # rejected: left unlabelled, not patched
    assert rows[1] == complete
    again = label_file(source, lm, tmp_path / "out", tmp_path / "cache")
    assert lm.calls == 1 and again.rejected == report.rejected   # answered from the cache
