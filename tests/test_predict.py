"""`redheart predict`, `redheart.load` and `redheart export` on a really trained checkpoint."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT, TEST_TEXTS, make_trainer, run_here

LONG_TEXT = " ".join(["I told my sister I could not come to the party because of work,"
                      " but the truth is that I did not want to see her husband."] * 12)


@pytest.fixture(scope="module")
def trained_run(quickstart_data, tmp_path_factory):
    """A run directory of the quickstart model after 6 real steps (checkpoints 3 and 6)."""
    run_dir = tmp_path_factory.mktemp("predict") / "run"
    trainer = make_trainer(quickstart_data, run_dir)
    try:
        trainer.fit()
    finally:
        trainer.close()
    return run_dir


@pytest.fixture(scope="module")
def model(trained_run):
    import redheart

    return redheart.load(str(trained_run))


@pytest.fixture(scope="module")
def predictions(model):
    return model.predict([*TEST_TEXTS, LONG_TEXT])


def _checkpoint(run_dir, pointer="best"):
    return run_dir / "checkpoints" / (run_dir / "checkpoints" / pointer).read_text().strip()


def test_outputs_are_distributions_in_range_and_flag_truncation(predictions):
    for prediction in predictions:
        out = prediction.outputs
        for name in ("emotion", "sentiment", "surd"):
            shares = list(out[name].value.values())
            assert sum(shares) == pytest.approx(1.0, abs=1e-5), name
            assert min(shares) >= 0.0
        views = list(out["regret_views"].value.values())
        assert views == sorted(views) and 0 < views[0] and views[-1] < 1
        assert -1 < out["hedonic_value"].value < 1
        assert all(0 <= p <= 1 for p in out["fine"].value.values())
        fine = out["fine"]
        assert list(fine.above_threshold) == sorted(
            (k for k, p in fine.value.items() if p >= 0.3), key=lambda k: -fine.value[k])
    assert [p.truncated for p in predictions] == [False] * len(TEST_TEXTS) + [True]


def test_regret_decision_uses_the_threshold_fitted_in_training(trained_run, predictions):
    meta = json.loads((_checkpoint(trained_run) / "state.json").read_text())
    threshold = meta["regret_threshold"]
    assert isinstance(threshold, float) and 0 < threshold < 1
    for prediction in predictions:
        regret = prediction.outputs["regret"]
        assert regret.threshold == threshold
        assert regret.wrong == (regret.value > threshold)
    assert {p.outputs["regret"].wrong for p in predictions} == {True, False}
    assert predictions[-1].tokens == 128 and predictions[0].tokens < 30


def test_predict_reads_a_raw_text_with_the_longest_budget_and_its_truncation(trained_run):
    """No source for a raw text: the longest budget of training (here [data]'s, overridden)."""
    import redheart
    from redheart.data.encoder import TextEncoder

    model = redheart.load(str(trained_run),
                          overrides=["data.max_tokens=48", "data.truncation=head_tail"])
    [prediction] = model.predict([LONG_TEXT])
    assert prediction.tokens == 48 and prediction.truncated
    states, mask = model.states([LONG_TEXT])
    expected, _ = TextEncoder(max_tokens=48).encode([LONG_TEXT], 48, "head_tail")
    assert mask.shape == (1, 48)
    assert torch.allclose(states, expected.half().float(), atol=1e-6)
    head, _ = TextEncoder(max_tokens=48).encode([LONG_TEXT])
    assert not torch.allclose(states[0, -5:], head[0, -5:].half().float(), atol=1e-2)


def test_predictions_equal_the_model_forward_on_the_same_encoder_states(
        trained_run, quickstart_data, predictions):
    """Each text alone through the encoder (fp16-rounded, as the cache stores states) and
    UnifiedModel.forward: the batched, length-sorted predict must give the same numbers."""
    from redheart.data.encoder import TextEncoder
    from redheart.model.catalog import ExecutionMode
    from redheart.model.unified import UnifiedModel
    from redheart.runs.checkpoints import load_checkpoint

    config = quickstart_data[0]
    reference = UnifiedModel(config.model, ExecutionMode.EVALUATION)
    load_checkpoint(_checkpoint(trained_run), reference, None)
    reference.eval()
    encoder = TextEncoder(config.data.encoder, config.data.max_tokens)
    for text, prediction in zip([*TEST_TEXTS, LONG_TEXT], predictions, strict=True):
        states, mask = encoder.encode([text])
        with torch.no_grad():
            out = reference(states.half().float(), mask)
        expected = {
            "emotion": torch.softmax(out["emotion_logits"], -1)[0],
            "sentiment": torch.softmax(out["sentiment_logits"], -1)[0],
            "fine": torch.sigmoid(out["fine_logits"])[0],
            "regret_views": out["regret_views"][0], "surd": out["surd"][0],
            "bentham_dims": out["bentham_dims"][0], "cultural": out["cultural"][0]}
        for name, values in expected.items():
            got = torch.tensor(list(prediction.outputs[name].value.values()))
            assert torch.allclose(got, values, atol=1e-5), (name, text)
        assert prediction["regret"] == pytest.approx(float(out["regret"][0]), abs=1e-5)
        assert prediction["hedonic_value"] == pytest.approx(float(out["hedonic_value"][0]),
                                                            abs=1e-5)


def test_cli_json_gives_the_api_numbers_and_the_model_identity(trained_run, predictions):
    # In this process: the command's output is the point (the stdin test below runs one).
    result = run_here("predict", str(trained_run / "checkpoints" / "best"), "--json",
                      TEST_TEXTS[0], LONG_TEXT)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["truncated"] for line in lines] == [False, True]
    first = lines[0]
    assert first["model"]["path"] == str(_checkpoint(trained_run).resolve())
    assert first["model"]["step"] == 6 and len(first["model"]["config_hash"]) == 16
    assert set(first["outputs"]) == set(predictions[0].outputs)
    for name, output in first["outputs"].items():   # other batch neighbours: float noise only
        expected = predictions[0].as_json()["outputs"][name]
        assert output["value"] == pytest.approx(expected["value"], abs=1e-6)
        assert {k: v for k, v in output.items() if k != "value"} == \
            {k: v for k, v in expected.items() if k != "value"}


def test_streamed_stdin_answers_every_line_in_order(trained_run):
    lines = f"{TEST_TEXTS[1]}\n\n{{\"text\": \"{TEST_TEXTS[2]}\", \"id\": 7}}\n"
    result = subprocess.run(
        [sys.executable, "-m", "redheart", "predict", str(trained_run), "--json", "--file", "-"],
        input=lines, capture_output=True, text=True, cwd=ROOT, timeout=120)
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a.get("text") for a in answers] == [TEST_TEXTS[1], None, TEST_TEXTS[2]]
    assert answers[1] == {"error": "stdin:2: empty text; remove it or write a text there",
                          "line": 2}
    assert answers[2]["fields"] == {"id": 7}
    assert result.returncode == 2 and "Traceback" not in result.stderr


class _Terminal(io.TextIOWrapper):
    """stdin as a terminal gives it: nothing piped."""

    def isatty(self) -> bool:
        return True


def test_texts_piped_into_stdin_need_no_file_dash(trained_run, monkeypatch):
    """`echo TEXT | redheart predict RUN`: a pipe with no TEXT or --file is read as `--file -`."""
    piped = f"{TEST_TEXTS[1]}\n{{\"text\": \"{TEST_TEXTS[2]}\", \"id\": 7}}\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(piped)))
    result = run_here("predict", str(trained_run), "--json")
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["text"] for a in answers] == [TEST_TEXTS[1], TEST_TEXTS[2]]
    assert answers[1]["fields"] == {"id": 7}


@pytest.mark.parametrize(("stdin", "says"), [
    (_Terminal, "no texts: pass TEXT arguments, --file PATH, or pipe texts into stdin"),
    (io.TextIOWrapper, "no texts: stdin was empty; pass TEXT arguments"),
], ids=["terminal", "empty-pipe"])
def test_no_texts_from_a_terminal_or_an_empty_pipe_is_one_line(trained_run, monkeypatch,
                                                                stdin, says):
    monkeypatch.setattr(sys, "stdin", stdin(io.BytesIO(b"")))
    result = run_here("predict", str(trained_run))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {says}"), result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_export_refuses_a_damaged_checkpoint_or_another_checkpoints_metrics(trained_run,
                                                                             tmp_path):
    import shutil

    from redheart.runs.checkpoint_arg import checkpoint_folder

    folder = tmp_path / "run" / "checkpoints" / "step-00000006"
    shutil.copytree(checkpoint_folder(trained_run), folder)
    metrics = tmp_path / "validate.json"
    metrics.write_text(json.dumps({"checkpoint": str(tmp_path / "elsewhere" / "step-00000099"),
                                   "metrics": {"regret": {"mae": 0.25}}}))
    other = run_here("export", str(folder), "--out", str(tmp_path / "a"), "--metrics",
                     str(metrics))
    assert other.returncode == 2 and len(other.stderr.splitlines()) == 1
    assert other.stderr.startswith(f"error: --metrics {metrics}: validates "), other.stderr
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    damaged = run_here("export", str(folder), "--out", str(tmp_path / "b"))
    assert damaged.returncode == 2 and len(damaged.stderr.splitlines()) == 1, damaged.stderr
    assert damaged.stderr.startswith(f"error: {weights}: damaged (")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "validate.json"]  # no tmp


def test_export_then_predict_and_load_give_the_same_numbers(trained_run, predictions,
                                                            tmp_path, capsys):
    import redheart
    from redheart.cli import main

    metrics = tmp_path / "validate.json"
    metrics.write_text(json.dumps({
        "metrics": {"regret": {"mae": 0.25, "count": 9}, "surd": {"mse": 0.01063},
                    "bentham": {"pairwise_accuracy": 0.0842}},
        "baselines": {"prior": {"regret": {"mae": 0.31}}, "probe": {"surd": {"mse": 0.01031}}},
        "intervals": {"model": {"bentham": {"pairwise_accuracy": [0.05, 0.12]}}}}))
    out = tmp_path / "export"
    assert main(["export", str(trained_run), "--out", str(out), "--metrics", str(metrics)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "MODEL_CARD.md", "config.toml", "export.json", "labels.json", "model.safetensors"]
    # the weights are as readable as the rest (safetensors alone makes them owner-only)
    assert len({p.stat().st_mode & 0o777 for p in out.iterdir()}) == 1
    labels = json.loads((out / "labels.json").read_text())
    assert len(labels["fine"]) == 28 and labels["ekman"][-1] == "neutral"
    card = (out / "MODEL_CARD.md").read_text()
    assert "| regret | mae | 0.250 | 0.310 | – |" in card
    assert "| surd | mse | 0.0106 | – | 0.0103 |" in card      # as validate prints it
    assert "| bentham | pairwise_accuracy | 0.084 | – | – |" in card   # its bounds' decimals
    assert "| cultural | yes |" in card
    again = redheart.load(str(out)).predict([*TEST_TEXTS, LONG_TEXT])
    for before, after in zip(predictions, again, strict=True):
        assert after.model.path == str(out.resolve()) and after.model.step == 6
        for name, output in before.outputs.items():
            assert after.outputs[name].value == pytest.approx(output.value, abs=1e-6)
    capsys.readouterr()
    assert main(["predict", str(out), "--json", TEST_TEXTS[0]]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["outputs"]["regret"]["value"] == pytest.approx(predictions[0]["regret"],
                                                               abs=1e-6)
    half = tmp_path / "export-bf16"
    assert main(["export", str(trained_run), "--out", str(half), "--dtype", "bfloat16"]) == 0
    assert (half / "model.safetensors").stat().st_size < (out / "model.safetensors").stat(
        ).st_size * 0.6
    rounded = redheart.load(str(half)).predict([TEST_TEXTS[0]])[0]
    assert rounded["regret"] == pytest.approx(predictions[0]["regret"], abs=0.05)


def test_disabled_analyzers_load_from_a_full_checkpoint_and_say_head_only(
        trained_run, predictions, quickstart_data):
    """Without its analyzer a task's prediction is exactly the head's own (the deep-
    supervision output `head/...` of the full model)."""
    import redheart
    from redheart.model.catalog import ExecutionMode
    from redheart.model.unified import UnifiedModel
    from redheart.runs.checkpoints import load_checkpoint

    light = redheart.load(str(trained_run),
                          overrides=['model.disabled=["regret_analyzer", "surd_analyzer"]'])
    assert light.identity.disabled == ("regret_analyzer", "surd_analyzer")
    assert not hasattr(light.model, "regret_analyzer") or light.model.regret_analyzer is None
    [pred] = light.predict([TEST_TEXTS[4]])
    assert pred.outputs["regret"].source == "head" and pred.outputs["surd"].source == "head"
    assert pred.outputs["emotion"].source == "head+analyzer"
    full = UnifiedModel(quickstart_data[0].model, ExecutionMode.EVALUATION)
    load_checkpoint(_checkpoint(trained_run), full, None)
    states, mask = light.states([TEST_TEXTS[4]])
    with torch.no_grad():
        out = full.eval()(states, mask)
    assert pred["regret"] == pytest.approx(float(out["head/regret"][0]), abs=1e-5)
    assert pred["regret"] != pytest.approx(predictions[4]["regret"], abs=1e-7)
    assert pred["emotion"] == pytest.approx(predictions[4]["emotion"], abs=1e-5)


def test_trainer_counts_the_labelled_rows_of_every_applied_step(trained_run, quickstart_data):
    from redheart.data.batching import BatchPlan, loader, source_lengths
    from redheart.data.split import split_sources
    from redheart.train.trained_rows import add_rows

    config, sources, featurizer = quickstart_data
    train, _ = split_sources(sources, config.data.eval_fraction)
    plan = BatchPlan(source_lengths(train, featurizer), [s.source.weight for s in train],
                     config.train.batch_size, config.run.seed)
    expected: dict[str, int] = {}
    for index, batch in enumerate(loader(train, featurizer, plan.epoch(0))):
        if index == 6:
            break
        add_rows(expected, batch)
    meta = json.loads((_checkpoint(trained_run, "last") / "state.json").read_text())
    assert meta["trained_rows"] == expected
    assert expected["pairs"] > 0 and expected["emotion"] > 0 and expected["surd"] > 0


def test_untrained_outputs_are_hidden_and_flagged(trained_run, tmp_path, capsys):
    import redheart
    from redheart.cli import main

    copy = tmp_path / "step"
    shutil.copytree(_checkpoint(trained_run), copy)
    meta = json.loads((copy / "state.json").read_text())
    meta["trained_rows"] |= {"cultural": 0, "bentham_dims": 0}
    (copy / "state.json").write_text(json.dumps(meta))
    shown = redheart.load(str(copy)).predict([TEST_TEXTS[0]])[0]
    assert "cultural" not in shown.outputs and "bentham_dims" not in shown.outputs
    assert shown.outputs["regret"].trained is True
    every = redheart.load(str(copy), show_all=True).predict([TEST_TEXTS[0]])[0]
    assert every.outputs["cultural"].trained is False
    assert main(["predict", str(copy), TEST_TEXTS[0]]) == 0
    screen = capsys.readouterr().out
    assert "not shown: cultural, bentham_dims" in screen and "\njeong" not in screen
    # the header names the model on one line, however long its path (not cut at 80 columns)
    assert screen.splitlines()[0] == f"model: {copy.resolve()} (step {meta['step']})"
    assert main(["predict", str(copy), "--all", "--json", TEST_TEXTS[0]]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["outputs"]["bentham_dims"]["trained"] is False


def test_out_jsonl_writes_json_lines_and_a_table_file_has_no_padding(trained_run, tmp_path,
                                                                       capsys):
    """--out p.jsonl without --json is JSON lines, not the terminal table; a table written
    to a file carries no padding to the console's width."""
    from redheart.cli import main

    jsonl = tmp_path / "p.jsonl"
    assert main(["predict", str(trained_run), *TEST_TEXTS[:2], "--out", str(jsonl)]) == 0
    lines = jsonl.read_text().splitlines()
    assert [json.loads(line)["text"] for line in lines] == TEST_TEXTS[:2]
    table = tmp_path / "p.txt"
    assert main(["predict", str(trained_run), *TEST_TEXTS[:2], "--all", "--out",
                 str(table)]) == 0
    text = table.read_text()
    assert TEST_TEXTS[1] in text and "hedonic value" in text
    assert [line for line in text.splitlines() if line != line.rstrip()] == []
    assert capsys.readouterr().out == ""


def _bad(args, capsys, tmp_path) -> str:
    from redheart.cli import main

    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and "Traceback" not in err
    return err


def test_bad_inputs_are_one_line_and_exit_2(trained_run, tmp_path, capsys):
    latin1 = tmp_path / "texts.txt"
    latin1.write_bytes("fine line\ncaf\xe9 au lait\n".encode("latin-1"))
    no_text = tmp_path / "rows.jsonl"
    no_text.write_text('{"text": "ok"}\n{"body": "no text field"}\n')
    half = tmp_path / "checkpoints" / ".tmp-step-00000009-123"
    half.mkdir(parents=True)
    from redheart.cli import main

    exported = tmp_path / "export"
    assert main(["export", str(trained_run), "--out", str(exported)]) == 0
    other = tmp_path / "other-architecture"
    shutil.copytree(exported, other)
    config = (other / "config.toml").read_text()
    (other / "config.toml").write_text(config.replace("n_layers = 2", "n_layers = 3"))
    missing = tmp_path / "no-labels"
    shutil.copytree(exported, missing)
    (missing / "labels.json").unlink()
    cases = {
        "argument 1: empty text": ["predict", str(trained_run), "  "],
        f"{latin1}:2: not UTF-8": ["predict", str(trained_run), "--file", str(latin1)],
        f"{no_text}:2: no \"text\" field": ["predict", str(trained_run), "--file",
                                            str(no_text)],
        "no such checkpoint": ["predict", str(tmp_path / "nope")],
        "half-written checkpoint": ["predict", str(half)],
        "not an empty folder": ["export", str(trained_run), "--out", str(trained_run)],
        "folder {} does not exist".format(tmp_path / "no-dir"):
            ["predict", str(trained_run), "x", "--out", str(tmp_path / "no-dir" / "p.txt")],
        "the --file it reads": ["predict", str(trained_run), "--file", str(latin1),
                                "--out", str(latin1)],
        "another architecture; modules that differ: backbone": ["predict", str(other), "x"],
        "exported folder without labels.json": ["predict", str(missing), "x"],
    }
    if not torch.cuda.is_available():
        cases["no CUDA GPU is visible"] = ["predict", str(trained_run), "--device", "cuda", "x"]
    for expected, args in cases.items():
        assert expected in _bad(args, capsys, tmp_path), args
