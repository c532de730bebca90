"""Rich progress and summary for `redheart prepare`."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from redheart.config import Config
from redheart.data.prepare import encode_sources, read_sources


def run_prepare(config: Config, base_dir: Path, skip_bad_rows: bool,
                label_with: Path | None, label_int8: bool = False,
                console: Console | None = None) -> None:
    console = console or Console(stderr=True)
    if label_with is not None:
        from redheart.data.labeler import label_sources

        label_sources(config, base_dir, label_with, console, int8=label_int8)
    sources = read_sources(config, base_dir, skip_bad_rows)  # errors before any progress bar
    with Progress(TextColumn("encoding"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("texts"), TimeRemainingColumn(), console=console,
                  transient=True, disable=not console.is_terminal) as progress:
        # (off a terminal a transient bar still leaves an empty line: an error would be two)
        task = progress.add_task("encode", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, total=total, advance=done)

        report = encode_sources(config, sources, advance)
    for data in report.sources:
        rows = len(data.examples) + len(data.pairs)
        line = f"{data.source.kind:<19} {rows:>7} rows  {data.path}"
        if data.bad.count:
            line += f"  ({data.bad.summary()})"
        console.print(line, highlight=False, soft_wrap=True)
    if not report.caches:
        console.print("encoder_trainable: the encoder is fine-tuned, so token states are "
                      "computed in each step and nothing is cached", highlight=False)
    for cache in report.caches:
        console.print(f"encoded {cache.encoded} new texts; {cache.cached} in the cache "
                      f"{cache.dir} ({cache.budget.label()})", highlight=False, soft_wrap=True)
