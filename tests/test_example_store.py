"""The example store (`<cache_dir>/examples/`) serves a source's targets only while
everything they were derived from is unchanged, and is rebuilt when damaged."""

from __future__ import annotations

import shutil

import pytest

from redheart.config import DataSource
from redheart.data.bad_rows import DataError
from redheart.data.prepared import load_sources
from redheart.tasks import EKMAN
from tests.conftest import SHARED_DATA

TAXONOMY = SHARED_DATA / "goemotions"
pytestmark = pytest.mark.skipif(not TAXONOMY.is_dir(),
                                reason=f"GoEmotions taxonomy files not found at {TAXONOMY}")


@pytest.fixture()
def folder(tmp_path):
    for name in ("emotions.txt", "ekman_mapping.json"):
        shutil.copy(TAXONOMY / name, tmp_path / name)
    (tmp_path / "rows.tsv").write_text("I am so angry right now\t2\tx1\n")   # 2 = anger
    return tmp_path


def _emotion(folder) -> dict[str, float]:
    (data,) = load_sources((DataSource(kind="goemotions", path="rows.tsv"),), folder,
                           folder / "cache")
    return dict(zip(EKMAN, data.examples[0].emotion, strict=True))


def test_an_edited_emotions_txt_is_read_again_not_served_from_the_store(folder):
    """Label ids index emotions.txt: the store was keyed by the TSV alone, so reordered
    label names kept the old targets."""
    assert _emotion(folder)["anger"] == 1.0
    names = (folder / "emotions.txt").read_text().split("\n")
    names[2], names[25] = names[25], names[2]                   # anger <-> sadness
    (folder / "emotions.txt").write_text("\n".join(names))
    assert _emotion(folder)["sadness"] == 1.0


def test_a_missing_emotions_txt_is_an_error_even_with_a_store(folder):
    _emotion(folder)
    (folder / "emotions.txt").unlink()
    with pytest.raises(DataError, match=r"emotions.txt: not found; GoEmotions needs "
                                        r"emotions.txt next to rows.tsv"):
        _emotion(folder)


@pytest.mark.parametrize("damage", [lambda text: text[:len(text) // 2],
                                    lambda text: '{"examples": [{"txt": "x"}], "pairs": []}'],
                         ids=["cut", "other-schema"])
def test_a_damaged_store_is_derived_again_and_rewritten(folder, damage):
    """It is a cache of the source file: a cut or foreign one was a JSON traceback."""
    _emotion(folder)
    (store,) = (folder / "cache" / "examples").iterdir()
    store.write_text(damage(store.read_text()))
    assert _emotion(folder)["anger"] == 1.0
    assert _emotion(folder)["anger"] == 1.0                     # read from the rewritten store
    assert '"text": "I am so angry right now"' in store.read_text()

