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
