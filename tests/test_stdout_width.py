"""Tables sent to a file or a pipe keep one row per line: Rich assumes 80 columns off a
terminal, which folded `validate RUN > table.txt` row labels over several lines."""

from __future__ import annotations

from redheart.render.stdout_console import OFF_TERMINAL_WIDTH, stdout_console
from redheart.render.validate_table import print_validation

RESULT = {
    "metrics": {"emotion": {"macro_f1": 0.5612, "f1": {"joy": 0.7}},
                "regret": {"pearson": 0.2641, "mae": 0.2493}},
    "baselines": {"prior": {"emotion": {"macro_f1": 0.0831},
                            "regret": {"mae": 0.2684, "pearson": None}},
                  "probe": {"emotion": {"macro_f1": 0.4762},
                            "regret": {"pearson": 0.2733, "mae": 0.2421}}},
    "intervals": {"model": {"emotion": {"macro_f1": [0.5431, 0.5774]},
                            "regret": {"pearson": [0.2221, 0.3072]}},
                  "probe": {"emotion": {"macro_f1": [0.4521, 0.4993]}}},
    "beats_baselines": {"emotion": {"macro_f1": True}, "regret": {"pearson": False}},
}


def test_a_piped_validate_table_keeps_each_label_and_value_on_one_line(capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    print_validation(RESULT, "runs/r dev")       # capsys: stdout is not a terminal
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if "emotion macro-F1, multi-label p>=0.3 ↑" in line)
    assert "0.561" in row and "0.083" in row and "0.476" in row and "yes" in row
    assert "\\[0.543, 0.577]" not in row            # the interval is the cell's second line
    below = lines[lines.index(row) + 1]
    assert "[0.543, 0.577]" in below and "[0.452, 0.499]" in below
    row = next(line for line in lines if "regret Pearson r ↑" in line)
    assert "0.264" in row and "0.273" in row and "undefined" in row and "no" in row


def test_off_a_terminal_the_console_is_wide_unless_columns_says_otherwise(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert stdout_console().width == OFF_TERMINAL_WIDTH
    monkeypatch.setenv("COLUMNS", "97")
    assert stdout_console().width == 97
