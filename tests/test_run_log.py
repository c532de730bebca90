"""`redheart run`'s log off a terminal (nohup, `| tee`, a file): the lines it derives from
the run's events. Someone on a cloud box reads only this log, so every eval, checkpoint,
new best and warning must be in it, and the last line must say where the best model is."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from redheart.render.run_progress import RunReporter
from redheart.runs.checkpoints import TrainState
from redheart.train.trainer import RunOutcome

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "


def _trainer(total: int, step: int = 0) -> Any:
    """What `RunReporter.started` reads of a trainer (no model is built for a log test)."""
    return SimpleNamespace(total_steps=total, device="cpu", bf16=False,
                           dist=SimpleNamespace(active=False),
                           model=SimpleNamespace(module_params=lambda: {"backbone": 5_000_000}),
                           state=TrainState(step=step))


def _event(seq: int, type_: str, **fields: Any) -> dict[str, Any]:
    return {"v": 1, "seq": seq, "t": 1_700_000_000.0 + seq, "type": type_, **fields}


def _eval(seq: int, step: int, loss: float) -> dict[str, Any]:
    metrics = {"emotion": 4.9932, "bentham": 2.4424, "regret": 0.1041, "surd": 0.0415,
               "pairs": 0.4331, "loss": loss}
    return _event(seq, "eval", step=step, epoch=1, metrics=metrics, regret_threshold=0.25)


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_piped_log_has_every_eval_checkpoint_best_warning_and_a_summary(tmp_path, capsys):
    run_dir = tmp_path / "run"
    ckpt = run_dir / "checkpoints"
    reporter = RunReporter(tty=False)
    reporter.event(_event(0, "plan", forecast={"total": 1}))
    reporter.event(_event(1, "warning", message="stale lock of pid 7 cleared"))
    reporter.started(run_dir, _trainer(30))
    for event in (
            _event(3, "state", state="running", step=0),
            _event(4, "step", step=1, epoch=0, loss={"total": 5.0}),
            _event(5, "memory", rss=1),
            _event(6, "checkpoint", path=str(ckpt / "step-00000010"), step=10, best=False),
            _eval(7, 18, 8.0144),
            _event(8, "checkpoint", path=str(ckpt / "step-00000018"), step=18, best=True),
            _event(9, "state", state="paused", step=19, command="pause"),
            _eval(10, 30, 9.5),
            _event(11, "checkpoint", path=str(ckpt / "step-00000030"), step=30, best=False),
            _event(12, "state", state="finished", step=30),
            _event(13, "run_finished", summary={"reason": "done", "steps": 30,
                                                "best_loss": 8.0144})):
        reporter.event(event)
    reporter.finished(run_dir, RunOutcome(TrainState(step=30, best_loss=8.0144), "done",
                                          last_checkpoint=ckpt / "step-00000030"))
    lines = _lines(capsys)
    assert all(re.match(STAMP, line) for line in lines), lines
    text = [line[20:] for line in lines]
    assert text[0] == f"run directory {run_dir}"
    assert text[2] == "warning: stale lock of pid 7 cleared"   # held until the directory's line
    assert text[3] == f"checkpoint step 10 written: {ckpt / 'step-00000010'}"
    assert text[4].startswith("eval at step 18  emotion 4.9932  bentham 2.4424  regret 0.1041  "
                              "surd 0.0415  pairs 0.4331  eval loss 8.0144")
    assert text[5] == (f"checkpoint step 18 written: {ckpt / 'step-00000018'}  "
                       f"new best (eval loss 8.0144)")
    assert text[6] == "paused at step 19 (pause)"
    assert text[7].startswith("eval at step 30 ") and "eval loss 9.5000" in text[7]
    assert text[8] == f"checkpoint step 30 written: {ckpt / 'step-00000030'}"   # not a best
    assert text[9] == (f"done at step 30/30; best eval loss 8.0144 at step 18 "
                       f"({ckpt / 'step-00000018'}); last checkpoint "
                       f"{ckpt / 'step-00000030'}")
    assert text[10] == f"run directory {run_dir}"
    assert len(text) == 11        # step, memory, plan and the plain state events add no line
    # each line is stamped with its event's time, not the time it was printed
    assert lines[4].startswith(time.strftime("%Y-%m-%d %H:%M:%S",
                                             time.localtime(1_700_000_007.0)))


def test_a_resumed_launch_without_a_new_best_names_the_best_on_disk(tmp_path, capsys):
    run_dir = tmp_path / "run"
    best = run_dir / "checkpoints" / "step-00000006"
    best.mkdir(parents=True)
    (best / "state.json").write_text(json.dumps({"step": 6, "metrics": {"eval": {
        "loss": 3.25}}}))
    (run_dir / "checkpoints" / "best").write_text("step-00000006")
    reporter = RunReporter(tty=False)
    reporter.started(run_dir, _trainer(12, step=6))
    reporter.event(_eval(3, 12, 4.0))
    reporter.event(_event(4, "checkpoint", path=str(run_dir / "checkpoints" / "step-00000012"),
                          step=12, best=False))
    reporter.finished(run_dir, RunOutcome(TrainState(step=12, best_loss=3.25), "done",
                                          last_checkpoint=Path("x")))
    assert _lines(capsys)[-2][20:].startswith(
        f"done at step 12/12; best eval loss 3.2500 at step 6 ({best}); ")


def test_no_eval_yet_is_said_so(tmp_path, capsys):
    reporter = RunReporter(tty=False)
    reporter.started(tmp_path, _trainer(3))
    reporter.event(_event(2, "error", message="non-finite loss", module="emotion_head", step=2,
                          hint="lower the LR"))
    reporter.finished(tmp_path, RunOutcome(TrainState(step=2), "stopped"))
    text = [line[20:] for line in _lines(capsys)]
    assert "error: non-finite loss  module emotion_head  step 2  hint: lower the LR" in text
    assert "stopped at step 2/3; no eval yet, so no best checkpoint; last checkpoint none" in text


def test_quiet_prints_no_event_lines_but_the_summary_names_the_best(tmp_path, capsys):
    reporter = RunReporter(quiet=True, tty=False)
    reporter.started(tmp_path, _trainer(30))
    reporter.event(_eval(3, 30, 2.0))
    reporter.event(_event(4, "checkpoint", path=str(tmp_path / "c"), step=30, best=True))
    reporter.finished(tmp_path, RunOutcome(TrainState(step=30), "done"))
    text = [line[20:] for line in _lines(capsys)]
    assert not any(line.startswith(("eval", "checkpoint")) for line in text)
    assert f"best eval loss 2.0000 at step 30 ({tmp_path / 'c'})" in text[-2]
