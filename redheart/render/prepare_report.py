"""Rich progress and summary for `redheart prepare`."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from redheart.config import Config
from redheart.data.prepare import encode_sources, read_sources
from redheart.render.encoding_progress import encoding_progress
from redheart.units import MIB


def run_prepare(config: Config, base_dir: Path, skip_bad_rows: bool,
                label_with: Path | None, label_int8: bool = False,
                console: Console | None = None) -> None:
    console = console or Console(stderr=True)
    if label_with is not None:
        from redheart.data.labeler import label_sources

        label_sources(config, base_dir, label_with, console, int8=label_int8)
    sources = read_sources(config, base_dir, skip_bad_rows)  # errors before any progress bar
    with encoding_progress(console, lines=False) as advance:
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
        took = f" in {cache.seconds:.1f} s" if cache.encoded else ""
        console.print(f"encoded {cache.encoded} new texts{took}; {cache.cached} in the cache "
                      f"{cache.dir} ({cache.budget.label()}; {cache.size / MIB:.1f} MiB)",
                      highlight=False, soft_wrap=True)
