"""The bad-input table (cases.py): each case prints exactly its one line and exits 2.

Checkpoint cases also prove that a refused run changes no file of the run
directory, and that the pickle payload never ran.
"""

from __future__ import annotations

import pytest

from tests.bad_inputs.cases import CASES, PAYLOAD_MARKER, Workspace, execute, make_runs
from tests.conftest import SHARED_DATA
from tests.faults.harness import file_digests

TAXONOMY = SHARED_DATA / "goemotions"


@pytest.fixture(scope="module")
def runs(quickstart_data, tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("runs"), quickstart_data[0].data.cache_dir)


@pytest.fixture()
def workspace(request, tmp_path, quickstart_data):
    case = request.param
    if case.needs == "goemotions" and not TAXONOMY.is_dir():
        pytest.skip(f"GoEmotions taxonomy files not found at {TAXONOMY}")
    runs = request.getfixturevalue("runs") if case.needs == "runs" else None
    return case, Workspace(tmp_path, quickstart_data[0].data.cache_dir, runs, TAXONOMY)


@pytest.mark.parametrize("workspace", CASES, ids=[f"{c.group}-{c.id}" for c in CASES],
                         indirect=True)
def test_bad_input_is_one_line_and_exit_2(workspace):
    case, ws = workspace
    argv = case.build(ws)
    run = next((p for p in ws.dir.iterdir() if p.name in ("base", "other")), None)
    before = file_digests(run) if run else None
    outcome = execute(argv)
    assert outcome.code == 2, outcome.stderr
    assert len(outcome.stderr) == 1, outcome.stderr
    assert case.pattern(ws).fullmatch(outcome.stderr[0]), (outcome.stderr[0], case.expected)
    if run is not None:
        assert file_digests(run) == before, "a refused command changed the run directory"
        assert not (run / "lock").exists()
    assert not (ws.dir / PAYLOAD_MARKER).exists(), "the pickle payload ran"


def test_the_payload_would_run_if_anything_unpickled_it(tmp_path):
    """The control for the pickle cases: an unrestricted load does run it, so they can fail."""
    import pickle

    import torch

    from tests.bad_inputs.cases import _bare_pickle, _pickle_payload

    loads = {_pickle_payload: lambda path: torch.load(path, weights_only=False),
             _bare_pickle: lambda path: pickle.loads(path.read_bytes())}
    for write, load in loads.items():
        marker = tmp_path / PAYLOAD_MARKER
        marker.unlink(missing_ok=True)
        write(tmp_path, Workspace(tmp_path))
        load(tmp_path / "optimizer.pt")["state"].close()
        assert marker.exists(), write.__name__
