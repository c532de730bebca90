"""`redheart predict`: texts in, predictions out, every cheap check before the model loads."""

from __future__ import annotations

import io
import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from redheart.atomic_file import write_text_atomically
from redheart.errors import RedHeartError
from redheart.inference.model_source import open_model
from redheart.inference.predictor import Predictor, inference_device
from redheart.inference.results import Prediction
from redheart.inference.text_input import (
    JSON_LINES_SUFFIXES,
    InputError,
    TextRow,
    rows_from_arguments,
    rows_from_file,
    stream_batches,
)
from redheart.render.predictions import hidden_note, print_predictions


def run_predict(model: Path, texts: list[str], file: str | None, json_out: bool,
                out: Path | None, batch_size: int, device: str, show_all: bool,
                overrides: list[str]) -> int:
    """Exit status: 0, or 2 when a streamed line was refused (its answer says why).

    `--out` naming a JSON-lines file (.jsonl, .ndjson) writes JSON lines as
    --json does: the terminal table in a file of that name is what nobody
    asking for it meant.
    """
    json_out = json_out or (out is not None and out.suffix.lower() in JSON_LINES_SUFFIXES)
    inference_device(device)
    source = open_model(model, overrides)       # cheap checks: files, config, spellings
    if texts and file is not None:
        raise RedHeartError("pass texts as arguments or --file, not both")
    piped = not texts and file is None
    if piped:
        file = _piped_stdin()
    if out is not None:     # checked now: the answers are written at the end, all at once
        _check_out(out, None if file in (None, "-") else Path(file))
    rows = rows_from_arguments(texts) if texts else (
        None if file == "-" else rows_from_file(Path(file)))
    predictor = Predictor(source, device, batch_size, show_all)
    batches = stream_batches(most=batch_size) if rows is None else iter(())
    first = next(batches, None) if piped else None
    if piped and first is None:
        raise RedHeartError(f"no texts: stdin was empty; {_WHERE_TEXTS}")
    sink = _Sink(out, json_out)
    if not json_out:
        sink.note(_header(predictor))
    failed = False
    if rows is not None:
        sink.write(predictor.predict([r.text for r in rows], [r.fields for r in rows]))
    for batch in itertools.chain([first] if first else [], batches):
        failed |= _answer(predictor, batch, sink)
    sink.close()
    return 2 if failed else 0


_WHERE_TEXTS = "pass TEXT arguments, --file PATH, or pipe texts into stdin (--file - to type them)"


def _check_out(out: Path, file: Path | None) -> None:
    if out.is_dir():
        raise RedHeartError(f"--out {out}: a folder; name a file to write")
    if not out.parent.is_dir():
        raise RedHeartError(f"--out {out}: folder {out.parent} does not exist; create it or "
                            f"name a file in an existing folder")
    if file is not None and out.resolve() == file.resolve():
        raise RedHeartError(f"--out {out}: the --file it reads; name another file (the "
                            f"texts would be overwritten)")


def _piped_stdin() -> str:
    """`--file -` when texts come through a pipe or a redirect and none were named, as
    `echo TEXT | redheart predict RUN` is expected to work; a terminal's stdin is not read
    uninvited (the command would sit waiting for typing nobody meant to do)."""
    if sys.stdin is None or sys.stdin.isatty():
        raise RedHeartError(f"no texts: {_WHERE_TEXTS}")
    return "-"


def _answer(predictor: Predictor, batch: list[TextRow | InputError], sink: _Sink) -> bool:
    """Predict a streamed batch, answering refused lines in their place; any refused?"""
    good = [row for row in batch if isinstance(row, TextRow)]
    predictions = iter(predictor.predict([r.text for r in good], [r.fields for r in good])
                       if good else [])
    for row in batch:
        if isinstance(row, InputError):
            sink.error(str(row))
        else:
            sink.write([next(predictions)])
    sink.flush()
    return len(good) < len(batch)


def _header(predictor: Predictor) -> str | None:
    lines = [f"model: {predictor.identity.path} (step {predictor.identity.step})"]
    if predictor.identity.disabled:
        lines.append(f"analyzers left out: {', '.join(predictor.identity.disabled)} (their "
                     f"tasks are predicted by the heads alone, marked 'head only')")
    hidden = [name for name in predictor.untrained_outputs() if not predictor.show_all]
    if note := hidden_note(hidden):
        lines.append(note)
    return "\n".join(lines)


class _Sink:
    """stdout, flushed per answer; or --out, written whole and atomically at the end."""

    def __init__(self, out: Path | None, json_out: bool) -> None:
        self.out, self.json_out = out, json_out
        self.buffer = io.StringIO() if out is not None else None
        file = self.buffer if self.buffer is not None else sys.stdout
        self.console = Console(file=file, highlight=False, soft_wrap=False,
                               width=100 if self.buffer is not None else None)
        self._write: Callable[[str], object] = file.write

    def note(self, text: str | None) -> None:
        if text:
            self.console.print(text, style="dim", markup=False, soft_wrap=True)   # a long path

    def write(self, predictions: list[Prediction]) -> None:
        if self.json_out:
            for prediction in predictions:
                self._write(json.dumps(prediction.as_json(), ensure_ascii=False) + "\n")
        else:
            print_predictions(predictions, self.console)

    def error(self, message: str) -> None:
        if self.json_out:
            line = int(message.split(":", 2)[1]) if message.startswith("stdin:") else None
            self._write(json.dumps({"error": message, "line": line}) + "\n")
        else:
            print(f"error: {message}", file=sys.stderr, flush=True)

    def flush(self) -> None:
        if self.buffer is None:
            sys.stdout.flush()

    def close(self) -> None:
        if self.buffer is not None and self.out is not None:
            write_text_atomically(self.out, _without_padding(self.buffer.getvalue()))
        else:
            sys.stdout.flush()


def _without_padding(text: str) -> str:
    """The table as a file wants it: rich pads every table row with spaces to the
    console's width, which in a file is only trailing whitespace."""
    return "\n".join(line.rstrip() for line in text.split("\n"))
