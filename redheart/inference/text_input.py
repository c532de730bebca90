"""Texts for `predict`: arguments, a plain-text or JSONL file, or stdin as a stream.

A file is read and checked whole before the model loads, so a bad line
costs a second, not a model load. Stdin is a stream (the console keeps one
`predict` process up and writes a line per query): there a bad line is
answered with an error object and the stream goes on.
"""

from __future__ import annotations

import codecs
import json
import queue
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from redheart.errors import RedHeartError

JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
"""File names that mean one JSON object per line: read as such by --file, and written as
such by --out (which implies --json)."""


class InputError(RedHeartError):
    """A text to predict is unusable; the message names where it came from."""


@dataclass(frozen=True)
class TextRow:
    text: str
    where: str
    """`PATH:LINE` or `argument N`, for messages."""
    fields: dict[str, Any] = field(default_factory=dict)
    """A JSONL row's fields other than `text`."""


def rows_from_arguments(texts: list[str]) -> list[TextRow]:
    rows = [TextRow(text, f"argument {i + 1}") for i, text in enumerate(texts)]
    for row in rows:
        check_text(row)
    return rows


def rows_from_file(path: Path) -> list[TextRow]:
    """Every line of a file; `.jsonl` files hold objects with a `text` field."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"--file {path}: cannot read it ({exc.strerror}); pass a readable "
                         f"text or JSONL file") from None
    # Notepad and Excel's "UTF-8" export start the file with a byte-order mark;
    # left in, it becomes part of the first text (or breaks its JSON).
    data = data.removeprefix(codecs.BOM_UTF8)
    jsonl = path.suffix.lower() in JSON_LINES_SUFFIXES
    rows = []
    for number, raw in enumerate(data.splitlines(), start=1):
        row = parse_line(raw, f"{path}:{number}", jsonl)
        check_text(row)
        rows.append(row)
    if not rows:
        raise InputError(f"--file {path}: no texts in it; write one text a line")
    return rows


def parse_line(raw: bytes, where: str, jsonl: bool | None) -> TextRow:
    """One line; `jsonl` None (stdin) takes a line that is a JSON object as a JSONL row."""
    try:
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not UTF-8 text (byte {exc.start}); convert the file to "
                         f"UTF-8, e.g. iconv -f latin1 -t utf-8") from None
    if jsonl is False or (jsonl is None and not line.lstrip().startswith("{")):
        return TextRow(line, where)
    try:
        obj = json.loads(line)
    except ValueError as exc:
        if jsonl is None:          # a plain text that happens to start with "{"
            return TextRow(line, where)
        raise InputError(f"{where}: not a JSON object ({exc.msg}); write one object with a "
                         f"\"text\" field a line") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise InputError(f"{where}: no \"text\" field with a string; add one to each line")
    return TextRow(obj["text"], where, {k: v for k, v in obj.items() if k != "text"})


def check_text(row: TextRow) -> None:
    if not row.text.strip():
        raise InputError(f"{row.where}: empty text; remove it or write a text there")


def stream_batches(stream: BinaryIO | None = None, most: int = 64
                   ) -> Iterator[list[TextRow | InputError]]:
    """Lines of stdin in batches of what has arrived (at most `most`), until it closes.

    A reader thread feeds a queue: a batch is whatever is waiting once the
    first line is there, so an interactive query is answered at once and a
    piped file is still predicted in full batches.
    """
    stream = stream or sys.stdin.buffer
    lines: queue.Queue[bytes | None] = queue.Queue()

    def read() -> None:
        for raw in iter(stream.readline, b""):
            lines.put(raw)
        lines.put(None)

    threading.Thread(target=read, daemon=True, name="predict-stdin").start()
    number, ended = 0, False
    while not ended:
        batch: list[TextRow | InputError] = []
        raw = lines.get()
        while raw is not None:
            number += 1
            batch.append(_stream_row(raw, number))
            if len(batch) >= most:
                break
            try:
                raw = lines.get_nowait()
            except queue.Empty:
                break
        ended = raw is None
        if batch:
            yield batch


def _stream_row(raw: bytes, number: int) -> TextRow | InputError:
    try:
        row = parse_line(raw, f"stdin:{number}", None)
        check_text(row)
        return row
    except InputError as exc:
        return exc
