"""`redheart run` on a terminal: the bar line stays whole, the step's figures wrap below."""

from __future__ import annotations

import io

from rich.console import Console, Group

from redheart.render.run_progress import StepProgress

FIGURES = ("epoch 5  loss 0.1390  bentham 0.1859  lr 7.80e-04  |g| 0.85  230.2 samples/s  "
           "MFU 8.4%  rss 0.55 GiB")


def _screen(progress: StepProgress, console: Console) -> list[str]:
    lines = console.render_lines(Group(*progress.get_renderables()), console.options)
    return ["".join(segment.text for segment in line).rstrip() for line in lines]


def test_at_80_columns_the_step_and_eta_stay_and_the_figures_wrap():
    console = Console(file=io.StringIO(), width=80, color_system=None)
    progress = StepProgress(console)
    task = progress.add_task("", total=300)
    progress.figures = FIGURES
    progress.update(task, completed=108)
    screen = _screen(progress, console)
    assert screen[0].startswith("step 108/300 ") and " eta " in screen[0]
    assert len(screen) == 3 and all(len(line) <= 80 for line in screen)
    assert " ".join(" ".join(screen[1:]).split()) == " ".join(FIGURES.split())


def test_before_the_first_step_only_the_bar_is_drawn():
    console = Console(file=io.StringIO(), width=120, color_system=None)
    progress = StepProgress(console)
    progress.add_task("", total=300)
    assert [line.split()[:2] for line in _screen(progress, console)] == [["step", "0/300"]]
