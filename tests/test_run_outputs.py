"""What a real run sends out besides its events: notifications through apprise, TensorBoard
scalars while it trains; and what is made from its events afterwards (export-metrics, plot)."""

from __future__ import annotations

import csv
import json
import re

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from redheart.runs.events import read_events
from redheart.runs.scalars import ScalarStream
from tests.conftest import run_here
from tests.notify_server import closed_port, notification_inbox, received


@pytest.fixture(scope="module")
def run(tmp_path_factory, quickstart_data):
    """A 3-step quickstart run with TensorBoard on, its third step profiled, and three
    --notify URLs: a loopback inbox, a port nobody listens on, and a scheme apprise does
    not know. In this process
    (what the run sends out is the point, not its process), on the session's encoded
    sample set."""
    base = tmp_path_factory.mktemp("outputs")
    inbox = base / "inbox.jsonl"
    cache = quickstart_data[0].data.cache_dir
    with notification_inbox(inbox) as url:
        result = run_here("run", "profiles/quickstart.toml", "--samples", "40", "--quiet",
                          "--set", f'data.cache_dir="{cache}"',
                          "--set", "train.max_steps=3", "--set", "logging.tensorboard=true",
                          "--profile-steps", "1",
                          "--notify", url, "--notify", f"json://127.0.0.1:{closed_port()}/x",
                          "--notify", "nosuchservice://token@x", "--run-dir", str(base / "run"))
    assert result.returncode == 0, result.stderr
    return base / "run", received(inbox)


def _scalars(logdir) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(s.step, s.value) for s in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_the_finish_is_notified_and_failed_urls_are_warnings(run):
    run_dir, inbox = run
    events = list(read_events(run_dir / "events.jsonl"))
    summary = events[[e["type"] for e in events].index("run_finished")]["summary"]
    assert [(n["title"], n["type"]) for n in inbox] == [(f"{run_dir.name} finished", "success")]
    assert inbox[0]["message"].startswith(f"step 3; best eval loss {summary['best_loss']:.4g}")
    warnings = [e["message"] for e in events if e["type"] == "warning"]
    assert any(w.startswith("notify: 'nosuchservice://...' is not a URL apprise") for w in
               warnings)
    refused = [w for w in warnings if w.startswith(f"notify: '{run_dir.name} finished' was not "
                                                   f"sent: json://127.0.0.1:")]
    assert len(refused) == 1 and "/x did not accept it" in refused[0]
    assert summary["reason"] == "done"                  # the failures did not stop training


def test_tensorboard_reads_back_the_scalars_of_the_events(run):
    run_dir, _ = run
    events = list(read_events(run_dir / "events.jsonl"))
    steps = [e for e in events if e["type"] == "step"]
    evals = [e for e in events if e["type"] == "eval"]
    live = _scalars(run_dir / "tensorboard")
    assert live["loss/total"] == [(e["step"], pytest.approx(e["loss"]["total"], rel=1e-6))
                                  for e in steps]
    assert live["lr"] == [(e["step"], pytest.approx(e["lr"], rel=1e-6)) for e in steps]
    assert live["grad_norm"] == [(e["step"], pytest.approx(e["grad_norm"], rel=1e-6))
                                 for e in steps]
    assert live["eval/loss"] == [(e["step"], pytest.approx(e["metrics"]["loss"], rel=1e-6))
                                 for e in evals]
    assert live["throughput/samples_per_s"][-1] == (
        3, pytest.approx(steps[-1]["samples_per_s"], rel=1e-6))
    # MFU on CPU: against a GEMM measured at the start, in every step and in TensorBoard
    started = next(e for e in events if e["type"] == "run_started")
    assert started["peak_source"].startswith("measured fp32 GEMM on cpu")
    assert all(isinstance(e["mfu"], float) and 0 < e["mfu"] < 1 for e in steps), steps
    assert live["throughput/mfu"] == [(e["step"], pytest.approx(e["mfu"], rel=1e-6))
                                      for e in steps]
    assert "memory/rss_gib" in live and any(t.startswith("loss/") and t != "loss/total"
                                            for t in live)


def test_export_metrics_writes_the_same_scalars_and_a_csv(run, tmp_path):
    run_dir, _ = run
    result = run_here("export-metrics", str(run_dir), "--tensorboard", str(tmp_path / "tb"),
                      "--csv", str(tmp_path / "m.csv"))
    assert result.returncode == 0, result.stderr
    exported = _scalars(tmp_path / "tb")
    live = _scalars(run_dir / "tensorboard")
    # The live log lacks only the memory samples taken after its last event was written.
    assert {t: v for t, v in exported.items() if not t.startswith(("memory/", "gpu/"))} == \
        {t: v for t, v in live.items() if not t.startswith(("memory/", "gpu/"))}
    with (tmp_path / "m.csv").open() as f:
        rows = list(csv.DictReader(f))
    stream = ScalarStream()
    expected = [s for e in read_events(run_dir / "events.jsonl") for s in stream.scalars(e)]
    assert len(rows) == len(expected)
    assert [(int(r["step"]), r["tag"], float(r["value"])) for r in rows] == \
        [(s.step, s.tag, s.value) for s in expected]
    assert f"{len(rows)} rows to" in result.stdout
    folder = run_here("export-metrics", str(run_dir), "--csv", str(tmp_path))
    assert folder.returncode == 2
    assert folder.stderr.strip() == (f"error: --csv {tmp_path}: a folder; name the file to "
                                     f"write, e.g. --csv {tmp_path / 'metrics.csv'}")
    assert not list(tmp_path.parent.glob(f".{tmp_path.name}.*.tmp"))


def test_plot_writes_a_picture_of_the_asked_size(run, tmp_path):
    from PIL import Image

    run_dir, _ = run
    result = run_here("plot", str(run_dir), str(run_dir), "--out", str(tmp_path / "c.png"),
                      "--width", "640", "--height", "400")
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "c.png") as image:
        assert image.size == (640, 400)
        assert len(image.convert("RGB").getcolors(2**24)) > 10    # curves, not a blank page
    svg = run_here("plot", str(run_dir), "--out", str(tmp_path / "c.svg"))
    assert svg.returncode == 0, svg.stderr
    head = (tmp_path / "c.svg").read_text()[:1000]
    assert re.search(r'width="864pt" height="576pt"', head)       # 1200x800 px at 100 dpi
    bad = run_here("plot", str(run_dir), "--out", str(tmp_path / "c.jpg"))
    assert bad.returncode == 2 and "pick a .png or .svg" in bad.stderr


def test_plot_draws_the_training_loss_raw_and_smoothed_like_the_console(run, tmp_path,
                                                                        monkeypatch):
    """Raw total loss faint under its EMA (the console's weight by default), eval as is."""
    import numpy as np
    from matplotlib.figure import Figure

    from redheart.runs.plot import RAW_ALPHA, curves, plot_runs
    from redheart.runs.smoothing import DEFAULT_SMOOTHING, ema

    drawn = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: drawn.append(self) or
                        save(self, *a, **k))
    run_dir, _ = run
    loss = np.array([value for _, value in curves(run_dir)["loss/total"]])
    plot_runs([run_dir], tmp_path / "smooth.png", 400, 300)
    plot_runs([run_dir], tmp_path / "raw.png", 400, 300, smoothing=0)
    smooth, raw = ([(line.get_alpha(), line.get_ydata()) for line in figure.axes[0].lines]
                   for figure in drawn)
    assert [alpha for alpha, _ in smooth] == [RAW_ALPHA, None]
    np.testing.assert_allclose(smooth[0][1], loss)
    np.testing.assert_allclose(smooth[1][1], ema(loss, DEFAULT_SMOOTHING))
    assert len(raw) == 1 and raw[0][0] is None
    np.testing.assert_allclose(raw[0][1], loss)
    assert not np.allclose(smooth[1][1], loss)          # the smoothing changed something
    bad = run_here("plot", str(run_dir), "--out", str(tmp_path / "c.png"), "--smoothing", "1")
    assert bad.returncode == 2 and "--smoothing 1.0: pick a weight in [0, 1)" in bad.stderr


def test_profile_steps_writes_a_chrome_trace_of_the_chosen_step(run):
    run_dir, _ = run
    events = list(read_events(run_dir / "events.jsonl"))
    summary = events[[e["type"] for e in events].index("run_finished")]["summary"]
    trace = run_dir / "profile" / "rank0.steps-3-3.pt.trace.json"
    assert summary["profile_trace"] == str(trace)
    recorded = json.loads(trace.read_text())
    names = [e.get("name", "") for e in recorded["traceEvents"]]
    assert [n for n in names if n.startswith("ProfilerStep#")] == ["ProfilerStep#2"]
    assert any(n in ("aten::mm", "aten::addmm") for n in names)   # the model's matmuls
    assert any(n.startswith("autograd::engine::evaluate_function") for n in names)  # backward


def test_the_last_step_is_always_an_event(quickstart_data, tmp_path, monkeypatch):
    """Step events are rate-limited; `runs`, `diff` and the console take the final loss
    from the newest one, so the last step's is never the one dropped."""
    import redheart.train.trainer as trainer

    monkeypatch.setattr(trainer, "MAX_STEP_EVENTS_PER_S", 1e-6)    # all but forced ones
    result = run_here("run", "profiles/quickstart.toml", "--samples", "40", "--quiet",
                      "--set", f'data.cache_dir="{quickstart_data[0].data.cache_dir}"',
                      "--set", "train.max_steps=3", "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    events = list(read_events(tmp_path / "run" / "events.jsonl"))
    steps = [e for e in events if e["type"] == "step"]
    finished = next(e for e in events if e["type"] == "run_finished")
    assert [e["step"] for e in steps] == [3]
    assert steps[-1]["loss"]["total"] == pytest.approx(finished["summary"]["final_loss"])


def _launch(first: int, last: int, loss: float, resumed_at: int | None) -> list[dict]:
    """One launch's events: a run_started at `resumed_at` (None: a first launch at 0),
    steps first..last with losses from `loss` on, and an eval (with checkpoint) at step 2."""
    events: list[dict] = [{"type": "run_started", "step": resumed_at or 0, "t": 1.0}]
    for step in range(first, last + 1):
        events.append({"type": "step", "step": step, "t": float(step), "lr": 1e-3,
                       "loss": {"total": loss + step}})
        if step == 2:
            events.append({"type": "eval", "step": 2, "t": 2.5, "metrics": {"loss": 0.5}})
    return events


# Killed at step 4 after the checkpoint at step 2 (with its eval), resumed from it.
KILLED = _launch(1, 4, 10.0, None)
RESUMED = _launch(3, 4, 20.0, 2)
ONE_CURVE = {"loss/total": [(1, 11.0), (2, 12.0), (3, 23.0), (4, 24.0)],
             "eval/loss": [(2, 0.5)]}


def test_a_resumed_launch_keeps_its_checkpoint_steps_scalars_in_tensorboard(tmp_path):
    """TensorBoard drops earlier points at or after a session start's step: the marker
    goes after the checkpoint's step, so its eval and loss stay, live and exported."""
    from redheart.runs.export_metrics import export_tensorboard
    from redheart.runs.tensorboard_log import TensorBoardLog

    for events in (KILLED, RESUMED):    # live: one writer (one event file) per launch
        log = TensorBoardLog(tmp_path / "live")
        for event in events:
            log(event)
        log.close()
    live = _scalars(tmp_path / "live")
    assert {tag: live[tag] for tag in ONE_CURVE} == ONE_CURVE

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n"
                                                  for e in KILLED + RESUMED))
    export_tensorboard(run_dir, tmp_path / "exported")
    exported = _scalars(tmp_path / "exported")
    assert {tag: exported[tag] for tag in ONE_CURVE} == ONE_CURVE


def test_a_launch_restarted_from_step_0_replaces_the_earlier_steps(tmp_path):
    """Killed before its first checkpoint, `--resume last` starts again at step 0."""
    from redheart.runs.export_metrics import export_tensorboard

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    again = _launch(1, 2, 30.0, None)
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n"
                                                  for e in _launch(1, 3, 10.0, None) + again))
    export_tensorboard(run_dir, tmp_path / "tb")
    assert _scalars(tmp_path / "tb")["loss/total"] == [(1, 31.0), (2, 32.0)]


def test_export_metrics_refuses_an_existing_csv_and_writes_nothing(tmp_path, capsys):
    """As --tensorboard and `export` do: one line, exit 2, the file kept, and no
    TensorBoard files written by a command that was refused."""
    from redheart.cli import main

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in KILLED))
    (tmp_path / "m.csv").write_text("mine\n")
    code = main(["export-metrics", str(run_dir), "--tensorboard", str(tmp_path / "tb"),
                 "--csv", str(tmp_path / "m.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err == (f"error: --csv {tmp_path / 'm.csv'}: already exists; name a "
                                 f"new file or remove it first (nothing is overwritten)\n")
    assert (tmp_path / "m.csv").read_text() == "mine\n"
    assert not (tmp_path / "tb").exists()
