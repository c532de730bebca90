"""Texts read by `predict --file`: what reaches the model is what the user wrote."""

from __future__ import annotations

import codecs
import json

from redheart.inference.text_input import rows_from_file


def test_a_byte_order_mark_is_not_part_of_the_first_text(tmp_path):
    plain = tmp_path / "texts.txt"
    plain.write_bytes(codecs.BOM_UTF8 + b"I lied to her.\r\nShe forgave me.\n")
    assert [row.text for row in rows_from_file(plain)] == ["I lied to her.", "She forgave me."]
    rows = tmp_path / "texts.jsonl"
    rows.write_bytes(codecs.BOM_UTF8 + json.dumps({"text": "I lied.", "id": 7}).encode())
    [row] = rows_from_file(rows)
    assert (row.text, row.fields, row.where) == ("I lied.", {"id": 7}, f"{rows}:1")


def test_an_ndjson_file_is_read_as_json_lines_as_it_is_written(tmp_path):
    """`--out x.ndjson` writes JSON lines, so `--file x.ndjson` reads them back as rows,
    not as texts that happen to be JSON."""
    path = tmp_path / "texts.ndjson"
    path.write_text(json.dumps({"text": "I lied.", "id": 3}) + "\n")
    [row] = rows_from_file(path)
    assert (row.text, row.fields) == ("I lied.", {"id": 3})
