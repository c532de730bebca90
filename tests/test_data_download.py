"""`redheart data download` against a loopback server: never the network.

The pin table is the shipped one with every URL pointed at the test's
server and every pin computed from the bytes made here, so the layout the
tests check is the one the shipped profiles read.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from redheart.cli import main
from redheart.config_load import load_profile
from redheart.data.download.hint import shown_path
from redheart.data.download.pins import DEFAULT_PINS
from redheart.data.prepare import read_sources
from redheart.tasks import EKMAN_OF_FINE, FINE_LABELS
from tests.conftest import PROFILES
from tests.download_server import DataServer, Served

VOTES = {"AUTHOR": 1, "OTHER": 3, "EVERYBODY": 0, "NOBODY": 1, "INFO": 0}


def jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def tsv(split: str, rows: int) -> bytes:
    """GoEmotions rows written for this test: text, label ids, comment id."""
    return "".join(f"{split} comment number {i}, written for this test\t{i % 28}\t{split}{i}\n"
                   for i in range(rows)).encode()


def tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def scruples_members() -> dict[str, bytes]:
    members = {}
    for split, n in (("train", 30), ("dev", 8), ("test", 8)):
        members[f"anecdotes/{split}.scruples-anecdotes.jsonl"] = jsonl([
            {"id": f"{split}{i}", "title": f"AITA for test {i}?",
             "text": "I kept the last slice of cake for myself.", "label_scores": VOTES}
            for i in range(n)])
        members[f"dilemmas/{split}.scruples-dilemmas.jsonl"] = jsonl([
            {"id": f"{split}{i}", "gold_annotations": [1, 4], "actions": [
                {"description": f"keeping a found wallet {i}"},
                {"description": "returning a borrowed book late"}]}
            for i in range(n)])
    return members


def goemotions_files() -> dict[str, bytes]:
    ekman: dict[str, list[str]] = {}
    for fine, group in EKMAN_OF_FINE.items():
        if group != "neutral":
            ekman.setdefault(group, []).append(fine)
    return {"emotions.txt": "\n".join(FINE_LABELS).encode(),
            "ekman_mapping.json": json.dumps(ekman).encode(),
            "sentiment_dict.json": json.dumps({"positive": ["joy"]}).encode(),
            "train.tsv": tsv("train", 3000), "dev.tsv": tsv("dev", 40),
            "test.tsv": tsv("test", 40)}


@dataclass
class World:
    """The server's files, the pin table pointing at them, and the data folder."""

    served: Served
    server: DataServer
    pins: Path
    root: Path
    expected: dict[str, bytes]
    """Final path under root -> the bytes it must hold."""

    def download(self, *args: str) -> int:
        return main(["data", "download", "--to", str(self.root), "--pins", str(self.pins),
                     *args])

    def requests_for(self, name: str) -> list[str | None]:
        return [rng for path, rng in self.served.requests if path.endswith(name)]


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def write_pins(path: Path, server: DataServer, served: Served, members: dict[str, bytes],
               unpinned: tuple[str, ...] = ()) -> dict[str, bytes]:
    """The shipped table, its URLs moved to `server`, pins measured from the served bytes.

    Returns what each final file must hold. URLs ending in a name of
    `unpinned` keep a null pin (and null member sizes).
    """
    raw = json.loads(DEFAULT_PINS.read_text())
    expected = {}
    for name, spec in raw.items():
        if name.startswith("_"):
            continue
        for item in spec["files"]:
            key = f"{name}/{item['url'].rsplit('/', 1)[-1]}"
            body = served.files[key]
            item["url"] = server.url(key)
            known = not key.endswith(unpinned)
            item["size"], item["sha256"] = (len(body), sha(body)) if known else (None, None)
            if "to" in item:
                expected[item["to"]] = body
            for member in item.get("members", ()):
                member["size"] = len(members[member["name"]]) if known else None
                expected[f"{item['unpack_into']}/{member['name']}"] = members[member["name"]]
    path.write_text(json.dumps(raw, indent=2))
    return expected


@pytest.fixture()
def world(tmp_path):
    members = scruples_members()
    served = Served({f"goemotions/{k}": v for k, v in goemotions_files().items()})
    for archive in ("anecdotes", "dilemmas"):
        served.files[f"scruples/{archive}.tar.gz"] = tar_gz(
            {k: v for k, v in members.items() if k.startswith(archive)})
    with DataServer(served) as server:
        pins = tmp_path / "pins.json"
        expected = write_pins(pins, server, served, members)
        yield World(served, server, pins, tmp_path / "shared" / "data", expected)


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and err[-1].startswith("error: ")
    return err[-1]


def leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and str(p.relative_to(root)) not in WORLD_FILES)


WORLD_FILES = {
    *(f"goemotions/{n}" for n in ("emotions.txt", "ekman_mapping.json",
                                  "sentiment_mapping.json", "train.tsv", "dev.tsv", "test.tsv")),
    *(f"scruples/{kind}/{split}.scruples-{kind}.jsonl" for kind in ("anecdotes", "dilemmas")
      for split in ("train", "dev", "test")),
}


# ------------------------------------------------------------------ full layout


def test_full_download_lays_out_the_files_the_shipped_profiles_read(world, tmp_path, capsys):
    assert world.download() == 0
    assert set(world.expected) == WORLD_FILES
    for rel, body in world.expected.items():
        assert (world.root / rel).read_bytes() == body, rel
    assert leftovers(world.root) == []          # no .part, no archive left behind
    out = capsys.readouterr().err
    assert "goemotions: 6 downloaded, 0 already present" in out
    assert "scruples: 2 downloaded, 0 already present" in out

    # the shipped real-data profile, moved beside this data folder, reads every source
    config = load_profile(PROFILES / "cpu-real.toml",
                          [f'data.cache_dir="{tmp_path / "cache"}"'])
    profiles_dir = tmp_path / "project" / "profiles"     # ../../shared/data from here
    profiles_dir.mkdir(parents=True)
    sources = read_sources(config, profiles_dir)
    rows = {(s.source.kind, s.path.name): len(s.examples) + len(s.pairs) for s in sources}
    assert rows == {("goemotions", "train.tsv"): 3000, ("goemotions", "dev.tsv"): 40,
                    ("scruples_anecdotes", "train.scruples-anecdotes.jsonl"): 30,
                    ("scruples_anecdotes", "dev.scruples-anecdotes.jsonl"): 8,
                    ("scruples_dilemmas", "dev.scruples-dilemmas.jsonl"): 8}


def test_a_second_call_checks_sizes_and_makes_no_request(world, capsys):
    assert world.download() == 0
    world.served.requests.clear()
    capsys.readouterr()
    assert world.download() == 0
    assert world.served.requests == []
    out = capsys.readouterr().err
    assert "goemotions: 0 downloaded, 6 already present" in out
    assert "scruples: 0 downloaded, 2 already present" in out


def test_one_data_set_by_name(world):
    assert world.download("scruples") == 0
    assert (world.root / "scruples/anecdotes/test.scruples-anecdotes.jsonl").is_file()
    assert not (world.root / "goemotions").exists()
    assert all(path.startswith("scruples/") for path, _ in world.served.requests)


# ----------------------------------------------------------------------- resume


def test_a_cut_connection_resumes_with_a_range_request(world):
    world.served.cuts["goemotions/train.tsv"] = 20_000
    assert world.download("goemotions") == 0
    assert world.requests_for("train.tsv") == [None, "bytes=20000-"]
    assert (world.root / "goemotions/train.tsv").read_bytes() == world.expected[
        "goemotions/train.tsv"]
    assert leftovers(world.root) == []


def test_a_part_left_by_an_earlier_call_is_resumed(world):
    body = world.expected["goemotions/train.tsv"]
    part = world.root / "goemotions/train.tsv.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(body[:12_345])
    assert world.download("goemotions") == 0
    assert world.requests_for("train.tsv") == ["bytes=12345-"]
    assert (world.root / "goemotions/train.tsv").read_bytes() == body
    assert not part.exists()


def test_a_server_that_ignores_range_restarts_the_file(world):
    world.served.ranges = False
    body = world.expected["goemotions/train.tsv"]
    part = world.root / "goemotions/train.tsv.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"X" * 5000)               # not even the right bytes: rewritten
    assert world.download("goemotions") == 0
    assert (world.root / "goemotions/train.tsv").read_bytes() == body


# ----------------------------------------------------------------------- errors


def test_a_checksum_mismatch_keeps_nothing_and_exits_1(world, capsys):
    raw = json.loads(world.pins.read_text())
    raw["goemotions"]["files"][4]["sha256"] = "0" * 64         # dev.tsv
    world.pins.write_text(json.dumps(raw))
    assert world.download("goemotions") == 1
    line = error_line(capsys)
    assert line.startswith(f"error: checksum mismatch for {world.server.url('goemotions/dev.tsv')}"
                           f": got {len(world.expected['goemotions/dev.tsv'])} bytes")
    assert line.endswith("the file was not kept")
    assert not (world.root / "goemotions/dev.tsv").exists()
    assert not (world.root / "goemotions/dev.tsv.part").exists()
    assert (world.root / "goemotions/train.tsv").is_file()      # verified before it: kept


def test_a_404_names_the_url_and_the_files_to_place_by_hand(world, capsys):
    del world.served.files["scruples/dilemmas.tar.gz"]
    assert world.download("scruples") == 1
    line = error_line(capsys)
    url = world.server.url("scruples/dilemmas.tar.gz")
    assert line == (f"error: download failed: {url}: HTTP 404 Not Found; to place the files "
                    f"by hand: unpack {url} into {world.root / 'scruples'} "
                    f"(dilemmas/train.scruples-dilemmas.jsonl, "
                    f"dilemmas/dev.scruples-dilemmas.jsonl, "
                    f"dilemmas/test.scruples-dilemmas.jsonl)")
    assert (world.root / "scruples/anecdotes/train.scruples-anecdotes.jsonl").is_file()


def test_an_unreachable_server_is_one_line_and_exit_1(world, tmp_path, capsys):
    with socket.socket() as s:                   # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    raw = world.pins.read_text().replace(f":{world.server.httpd.server_address[1]}/",
                                         f":{port}/")
    world.pins.write_text(raw)
    assert world.download("goemotions") == 1
    captured = capsys.readouterr().err.strip().splitlines()
    line = captured[-1]
    first = f"http://127.0.0.1:{port}/goemotions/emotions.txt"
    assert line.startswith(f"error: download failed: {first}: unreachable (")
    assert f"save {first} as {world.root / 'goemotions/emotions.txt'}" in line
    assert f"as {world.root / 'goemotions/test.tsv'}" in line        # every missing file
    assert not world.root.joinpath("goemotions/emotions.txt").exists()


def test_a_file_that_is_not_the_pinned_one_is_not_replaced_without_force(world, capsys):
    mine = world.root / "goemotions/dev.tsv"
    mine.parent.mkdir(parents=True)
    mine.write_text("my own re-split\t1\tx\n")
    assert world.download("goemotions") == 2
    assert "exists but is not the pinned file" in error_line(capsys)
    assert world.served.requests == []
    assert mine.read_text() == "my own re-split\t1\tx\n"
    assert world.download("goemotions", "--force") == 0
    assert mine.read_bytes() == world.expected["goemotions/dev.tsv"]


def test_an_unknown_data_set_is_a_usage_error(world, capsys):
    assert world.download("imdb") == 2
    assert "'imdb' is not one of" in error_line(capsys)


# ---------------------------------------------------------------- pinning (--pin)


def unpinned_world(world: World, *names: str) -> dict[str, bytes]:
    return write_pins(world.pins, world.server, world.served, scruples_members(), names)


def test_unpinned_files_are_refused_until_pin_checks_and_records_them(world, capsys):
    unpinned_world(world, "test.tsv", "anecdotes.tar.gz")
    assert world.download() == 1
    line = error_line(capsys)
    assert line.startswith(f"error: no pinned checksum yet for "
                           f"{world.server.url('goemotions/test.tsv')}, "
                           f"{world.server.url('scruples/anecdotes.tar.gz')}; ")
    assert line.endswith(f"run: redheart data download goemotions scruples --to "
                         f"{shown_path(world.root)} --pin (then commit the pins)")
    assert (world.root / "goemotions/train.tsv").is_file()     # the pinned ones are placed
    assert not (world.root / "goemotions/test.tsv").exists()
    assert not any(p.endswith(("test.tsv", "anecdotes.tar.gz")) for p, _ in
                   world.served.requests)

    assert world.download("--pin") == 0
    out = capsys.readouterr().err
    assert "pinned test.tsv" not in out and "pinned goemotions/test.tsv: " in out
    assert "anecdotes/train.scruples-anecdotes.jsonl: 30 rows" in out
    raw = json.loads(world.pins.read_text())
    test_tsv = raw["goemotions"]["files"][5]
    body = world.expected["goemotions/test.tsv"]
    assert (test_tsv["size"], test_tsv["sha256"]) == (len(body), sha(body))
    anecdotes = raw["scruples"]["files"][0]
    archive = world.served.files["scruples/anecdotes.tar.gz"]
    assert (anecdotes["size"], anecdotes["sha256"]) == (len(archive), sha(archive))
    assert [m["size"] for m in anecdotes["members"]] == [
        len(world.expected[f"scruples/{m['name']}"]) for m in anecdotes["members"]]
    for rel, body in world.expected.items():
        assert (world.root / rel).read_bytes() == body, rel
    world.served.requests.clear()
    assert world.download() == 0 and world.served.requests == []   # pinned sizes: present


def test_files_placed_by_hand_for_an_unpinned_archive_count_as_present(world, capsys):
    unpinned_world(world, "anecdotes.tar.gz")
    for split in ("train", "dev", "test"):                # e.g. a re-split of the corpus
        mine = world.root / f"scruples/anecdotes/{split}.scruples-anecdotes.jsonl"
        mine.parent.mkdir(parents=True, exist_ok=True)
        mine.write_text("{}\n")
    assert world.download("scruples") == 0
    assert world.requests_for("anecdotes.tar.gz") == []
    assert "scruples: 1 downloaded, 1 already present" in capsys.readouterr().err
    assert (world.root / "scruples/anecdotes/dev.scruples-anecdotes.jsonl").read_text() == "{}\n"


def test_a_whole_part_of_an_unpinned_file_is_not_fetched_again(world):
    """The server answers 416 to a range past the end: the part was whole already."""
    unpinned_world(world, "test.tsv")
    body = world.expected["goemotions/test.tsv"]
    part = world.root / "goemotions/test.tsv.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(body)
    assert world.download("goemotions", "--pin") == 0
    assert world.requests_for("test.tsv") == [f"bytes={len(body)}-"]
    assert (world.root / "goemotions/test.tsv").read_bytes() == body


def test_pin_refuses_a_file_that_is_not_the_data_set(world, capsys):
    unpinned_world(world, "test.tsv")
    world.served.files["goemotions/test.tsv"] = b"<html><body>rate limited</body></html>\n"
    before = world.pins.read_text()
    assert world.download("goemotions", "--pin") == 1
    line = error_line(capsys)
    assert line.startswith(f"error: {world.server.url('goemotions/test.tsv')}: not the "
                           f"expected goemotions file (")
    assert line.endswith("nothing was pinned")
    assert world.pins.read_text() == before
    assert not (world.root / "goemotions/test.tsv").exists()
    assert not (world.root / "goemotions/test.tsv.part").exists()


# ------------------------------------------------------- missing data: the hint


def test_missing_profile_data_names_the_download_command(tmp_path, capsys, monkeypatch):
    profiles = tmp_path / "project" / "profiles"
    profiles.mkdir(parents=True)
    profile = profiles / "cpu-real.toml"
    profile.write_text((PROFILES / "cpu-real.toml").read_text())
    monkeypatch.chdir(tmp_path / "project")
    assert main(["data", "stats", str(profile)]) == 2
    line = 1 + profile.read_text().splitlines().index(
        'path = "../../shared/data/goemotions/train.tsv"')
    assert error_line(capsys) == (
        f"error: {profile}:{line}: [data.sources] path = '../../shared/data/goemotions/train.tsv': "
        f"{profiles}/../../shared/data/goemotions/train.tsv not found; get it with "
        f"`redheart data download goemotions --to ../shared/data`, or fix the path "
        f"(relative paths are relative to the profile's folder)")


def missing_data_profile(tmp_path: Path) -> Path:
    """The quickstart model reading GoEmotions where the real-data profiles do, in a
    project folder with no data beside it."""
    profiles = tmp_path / "project" / "profiles"
    profiles.mkdir(parents=True)
    quickstart = (PROFILES / "quickstart.toml").read_text().split("[[data.sources]]")[0]
    profile = profiles / "real.toml"
    profile.write_text(f'{quickstart}\n[[data.sources]]\nkind = "goemotions"\n'
                       f'path = "../../shared/data/goemotions/train.tsv"\n')
    return profile


def test_a_run_with_missing_data_says_the_command_and_downloads_nothing(tmp_path, capsys,
                                                                       monkeypatch):
    """What `./run_learning.sh train-cloud` runs: `redheart run PROFILE` in the project."""
    profile = missing_data_profile(tmp_path)
    monkeypatch.chdir(profile.parent.parent)
    assert main(["run", str(profile), "--quiet", "--set", f'data.cache_dir="{tmp_path}/c"',
                 "--set", f'run.runs_root="{tmp_path}/runs"']) == 2
    assert error_line(capsys).endswith(
        "train.tsv not found; get it with `redheart data download goemotions --to "
        "../shared/data`, or fix the path (relative paths are relative to the profile's "
        "folder)")
    assert not (tmp_path / "shared").exists() and not (tmp_path / "runs").exists()


def test_the_consoles_start_with_missing_data_says_the_command(tmp_path, monkeypatch):
    import asyncio

    from tests.test_tui import wait_for
    from tui.app import RedHeartApp

    profile = missing_data_profile(tmp_path)
    monkeypatch.chdir(profile.parent.parent)

    async def scenario() -> str:
        app = RedHeartApp(profile, [f'data.cache_dir="{tmp_path}/c"',
                                    f'run.runs_root="{tmp_path}/runs"'])
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: app.training_done.is_set()
                           and "error" in messages(app))
            return messages(app)

    log = asyncio.run(scenario())
    assert "get it with `redheart data download goemotions --to ../shared/data`" in log
    assert not (tmp_path / "shared").exists() and not (tmp_path / "runs").exists()


def messages(app) -> str:
    """The run panel's message log as one line of text (wrapping folded)."""
    return " ".join(" ".join(strip.text for strip in app.query_one("#messages").lines).split())
