"""`redheart events` and `redheart control`: what scripts and remote consoles use."""

from __future__ import annotations

import json
import shutil
import threading
import time

from redheart.runs.events import EventWriter, follow_events
from tests.conftest import ROOT, run_cli

RECORDED = ROOT / "tests" / "data" / "recorded_events"


def copy_run(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(RECORDED, run)
    return run


def test_json_output_is_the_file_and_text_output_one_line_each(tmp_path):
    run = copy_run(tmp_path)
    lines = (run / "events.jsonl").read_text().splitlines()
    as_json = run_cli("events", str(run), "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert [json.loads(x) for x in as_json.stdout.splitlines()] == [json.loads(x) for x in lines]
    as_text = run_cli("events", str(run))
    assert len(as_text.stdout.splitlines()) == len(lines)
    last_step = [json.loads(x) for x in lines if '"type":"step"' in x][-1]
    assert f"step {last_step['step']}" in as_text.stdout


def test_event_lines_show_missing_values_as_a_dash_and_floats_as_the_losses():
    from redheart.render.event_lines import event_line

    plan = event_line({"v": 1, "seq": 0, "t": 0.0, "type": "plan", "budget_bytes": None,
                       "fits": None, "savers": [], "forecast": {"total": 2**30}})
    assert "budget -  fits -  savers none" in plan
    fits = event_line({"v": 1, "seq": 0, "t": 0.0, "type": "plan", "fits": True})
    assert "fits yes" in fits
    done = event_line({"v": 1, "seq": 9, "t": 0.0, "type": "run_finished", "summary": {
        "reason": "done", "steps": 300, "best_loss": 6.051057588355616, "profile_trace": None}})
    assert done.endswith("reason done  steps 300  best_loss 6.0511  profile_trace -")
    assert "None" not in plan + fits + done


def test_a_cut_last_line_is_never_printed_and_gaps_are_named(tmp_path):
    run = copy_run(tmp_path)
    path = run / "events.jsonl"
    lines = path.read_text().splitlines()
    kept = lines[:10] + lines[15:]                      # seq 10-14 lost
    path.write_text("\n".join(kept) + "\n" + lines[-1][: len(lines[-1]) // 2])
    result = run_cli("events", str(run), "--json")
    printed = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(printed) == len(kept)                    # the half line is held back
    assert "events 10-14 are missing" in result.stderr


def test_follow_prints_events_as_they_are_written_and_stops_at_the_end(tmp_path):
    run = tmp_path / "live"
    run.mkdir()
    writer = EventWriter(run / "events.jsonl")
    writer.emit("state", state="running", step=0)

    def produce():
        for step in range(1, 4):
            time.sleep(0.2)
            writer.emit("step", step=step, epoch=0, loss={"total": 1.0 / step})
        writer.emit("run_finished", summary={"reason": "done"})

    thread = threading.Thread(target=produce)
    thread.start()
    seen = [e["type"] for e in follow_events(run, follow=True, poll_s=0.05)]
    thread.join()
    assert seen == ["state", "step", "step", "step", "run_finished"]


def test_control_appends_a_command_and_refuses_bad_ones(tmp_path):
    from redheart.runs.run_dir import RunLock

    run = copy_run(tmp_path)
    ended = run_cli("control", str(run), "pause")      # its lock is free: nothing would read
    assert ended.returncode == 2 and f"{run}: not live" in ended.stderr
    assert not (run / "control").exists()
    lock = RunLock(run)
    lock.acquire()
    try:
        ok = run_cli("control", str(run), "set-lr", "--lr", "0.0003")
        zero = run_cli("control", str(run), "set-lr", "--lr", "0")
    finally:
        lock.release()
    assert ok.returncode == 0, ok.stderr
    assert zero.returncode == 2 and "a learning rate is positive" in zero.stderr
    command = json.loads((run / "control").read_text().splitlines()[-1])
    assert command["cmd"] == "set-lr" and command["lr"] == 0.0003
    bad = run_cli("control", str(run), "explode")
    assert bad.returncode == 2 and "unknown control command 'explode'" in bad.stderr
    nowhere = run_cli("control", str(tmp_path), "pause")
    assert nowhere.returncode == 2 and "not a run directory" in nowhere.stderr


FOREIGN = [  # lines that parse but that no run wrote: a script's own, a newer schema's
    {"v": 1, "seq": 900, "t": "noon", "type": "step", "step": 3, "loss": "x", "lr": "fast"},
    {"v": 1, "seq": 901, "type": "eval", "metrics": [4.2]},
    {"v": 1, "seq": {"a": 1}, "type": "memory", "torch": 1, "gpus": [None, 3]},
]


def test_lines_of_other_types_neither_stop_events_nor_the_csv_export(tmp_path):
    run = copy_run(tmp_path)
    whole = [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines()]
    with (run / "events.jsonl").open("a") as f:
        f.writelines(json.dumps(line) + "\n" for line in FOREIGN)
    listed = run_cli("events", str(run))
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr
    printed = listed.stdout.splitlines()
    assert len(printed) == len(whole) + len(FOREIGN)
    assert printed[-3] == ("--:--:-- #900    step         (fields of unexpected types; see it "
                           "with --json)")
    assert printed[-2].endswith("#901    eval         (fields of unexpected types; see it "
                                "with --json)")
    exported = run_cli("export-metrics", str(run), "--csv", str(tmp_path / "m.csv"))
    assert exported.returncode == 0, exported.stderr
    rows = (tmp_path / "m.csv").read_text().splitlines()
    clean = copy_run(tmp_path / "clean")
    assert run_cli("export-metrics", str(clean), "--csv", str(tmp_path / "c.csv")).returncode == 0
    expected = (tmp_path / "c.csv").read_text().splitlines()
    assert rows == expected              # the run's own rows, all there; none of theirs


def test_a_resumed_writer_numbers_on_after_a_line_without_a_numeric_seq(tmp_path):
    run = copy_run(tmp_path)
    last = max(json.loads(x)["seq"] for x in (run / "events.jsonl").read_text().splitlines())
    with (run / "events.jsonl").open("a") as f:
        f.writelines(json.dumps(line) + "\n" for line in FOREIGN)
        f.write('{"v": 1, "seq": "x", "type": "warning", "message": "a script\'s note"}\n')
    writer = EventWriter.resume(run / "events.jsonl")
    assert writer.emit("state", state="running")["seq"] == 902     # after FOREIGN's 901
    writer.close()
    assert last < 900
