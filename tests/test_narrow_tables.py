"""The CLI's tables at 80 columns (a default terminal, `| cat`): what each is read for
stays whole on one line; the less important gives way first."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from redheart.render.run_diff import print_diff
from redheart.render.runs_table import print_runs
from redheart.render.stats_table import print_stats
from redheart.runs.listing import RunSummary


def _console(width: int = 80) -> Console:
    return Console(width=width, record=True, color_system=None)


def _runs() -> list[RunSummary]:
    return [
        RunSummary(Path("runs/quickstart-20261203-063524"), "quickstart-20261203-063524",
                   "quickstart", "finished", 300, 300, 6.947475, 280, 154.03, 1796279724.0,
                   3723.0, 120_000_000),
        RunSummary(Path("runs/cpu-real-20261201-101500"), "cpu-real-20261201-101500",
                   "cpu-real", "live", 12000, 150000, 1.234567, 11000, 1234.5, 1796079724.0,
                   400000.0, 5_000_000_000),
    ]


def test_runs_at_80_columns_keep_name_status_step_and_best_whole():
    console = _console()
    print_runs(_runs(), "runs", console)
    lines = console.export_text().splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    for name, cells in (("quickstart-20261203-063524", ("finished", "300/300", "6.9475 @ 280")),
                        ("cpu-real-20261201-101500", ("live", "12000/150000",
                                                      "1.2346 @ 11000"))):
        row = next(line for line in lines if name in line)
        assert all(cell in row for cell in cells), row
    assert "…" not in console.export_text()
    assert any("left out at 80 columns" in line for line in lines)


def test_runs_on_a_wide_console_show_every_column():
    console = _console(200)
    print_runs(_runs(), "runs", console)
    text = console.export_text()
    header = next(line for line in text.splitlines() if " run " in line)
    assert header.split() == ["run", "profile", "status", "step", "best", "eval", "samples/s",
                              "started", "duration", "size"]
    assert "left out" not in text


def test_runs_names_fold_whole_when_even_the_essential_columns_do_not_fit():
    console = _console(60)
    print_runs(_runs(), "runs", console)
    lines = console.export_text().splitlines()
    assert all(len(line.rstrip()) <= 60 for line in lines)
    assert any("1.2346 @ 11000" in line for line in lines)
    body = lines[lines.index(next(line for line in lines if "───" in line)) + 1:]
    joined = "".join(line[:17].strip() for line in body)     # the run column, read down
    assert "quickstart-20261203-063524" in joined and "cpu-real-20261201-101500" in joined


DIFF = {"runs": {"a": "runs/a", "b": "runs/b"},
        "config": [{"key": "train.loss_weighting", "a": "uncertainty", "b": "fixed"},
                   {"key": "data.sources[1].max_tokens", "a": 0, "b": 384},
                   {"key": "data.sources[0].path",
                    "a": "/home/user/data/scruples/anecdotes/dev.scruples-anecdotes.jsonl",
                    "b": "sample:sample.jsonl"}],
        "metrics": {"best.eval.regret_threshold": {"a": 0.2447, "b": 0.1353}}}


def test_diff_keys_stay_whole_at_80_columns_and_the_values_wrap():
    console = _console()
    print_diff(DIFF, console)
    lines = console.export_text().splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    for row in DIFF["config"]:
        assert any(line.split() and line.split()[0] == row["key"] for line in lines), lines
    path = DIFF["config"][2]["a"]
    header = next(line for line in lines if line.split()[:1] == ["key"])
    start, end = header.index(" A ") + 1, header.index(" B ")
    body = "".join(line[start:end].strip() for line in lines)   # the A column, read down
    assert f'"{path}"' in body                            # wrapped, nothing lost
    assert any("best.eval.regret_threshold" in line for line in lines)


def test_data_stats_keeps_a_long_path_on_one_line_off_a_terminal():
    path = ("/home/someone/projects/red-heart/data/scruples/anecdotes/"
            "train.scruples-anecdotes.jsonl")
    stats = {"sources": [{"kind": "scruples_dilemmas", "path": path, "rows": 46, "bad_rows": 0,
                          "tasks": {"bentham": {"count": 0, "with_dims": 0, "pairs": 46}},
                          "tokens": {"p50": 13, "p90": 17, "p99": 20, "max": 22,
                                     "max_tokens": 128, "truncation": "head", "cut": 0.0}}]}
    out = io.StringIO()
    print_stats(stats, Console(file=out, width=80, color_system=None))   # an 80-column terminal
    lines = out.getvalue().splitlines()
    assert lines[0] == f"scruples_dilemmas: {path}"
    assert all(len(line) <= 80 for line in lines[1:])          # the table still fits


def test_diff_names_its_runs_whole_whatever_the_width():
    """`A: PATH` is copied into the next command: never folded mid-path."""
    long = "/home/someone/projects/red-heart/runs/cpu-real-20261201-101500-with-a-long-suffix"
    console = _console()
    print_diff({**DIFF, "runs": {"a": long, "b": "runs/b"}}, console)
    assert f"A: {long}" in console.export_text().splitlines()
