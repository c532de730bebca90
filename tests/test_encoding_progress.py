"""Encoding progress off a terminal: a start line and one a tenth, the same for every command."""

from __future__ import annotations

from rich.console import Console

from redheart.render.encoding_progress import EncodingProgress, encoding_progress


def test_off_a_terminal_it_prints_a_start_line_and_one_line_a_tenth():
    lines: list[str] = []
    progress = EncodingProgress(Console(), tty=False, line=lines.append)
    for done in (25, 3, 22, 25, 25):
        progress.advance(done, 100)
    progress.close()
    assert lines == ["encoding 100 texts into the cache", "encoded 25/100 texts",
                     "encoded 50/100 texts", "encoded 75/100 texts", "encoded 100/100 texts"]


def test_prepare_keeps_a_non_terminal_console_silent(capsys):
    with encoding_progress(Console(stderr=True), lines=False) as advance:
        advance(50, 100)
        advance(50, 100)
    assert capsys.readouterr().err == ""
