"""Every kind of bad input, as a table: the command, and the one stderr line it must print.

Each case writes its files into a fresh workspace folder and returns the
command line; the CLI must answer with exactly that one line (no
traceback) and exit code 2. `{d}` in an expected line stands for the
workspace folder, `{*}` for text a library supplies (a parser's detail).
tests/bad_inputs/test_bad_inputs.py runs the table; bench/faults.py prints
it.
"""

from __future__ import annotations

import io
import json
import pickle
import re
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "profiles" / "quickstart.toml"
GOOD_TSV = "I love this so much\t0,17\tabc1\n"
SKIP_HINT = (" (or skip such rows: [data] skip_bad_rows = true, "
             "or --set data.skip_bad_rows=true)")


@dataclass
class Workspace:
    """A fresh folder for one case, and the real runs checkpoint cases start from."""

    dir: Path
    cache: str = ""
    """data.cache_dir holding the quickstart sample set's token states."""
    runs: dict[str, Path] | None = None
    """"base": a quickstart run with one checkpoint; "other": one of another architecture."""
    taxonomy: Path | None = None
    """The GoEmotions folder with emotions.txt and ekman_mapping.json."""

    def write(self, name: str, text: str | bytes) -> Path:
        """`text` as UTF-8, or bytes as they are (a file in another encoding)."""
        path = self.dir / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    def profile(self, text: str) -> str:
        return str(self.write("profile.toml", text))

    def data_profile(self, kind: str, filename: str, extra: str = "") -> str:
        return self.profile(f'[data]\ncache_dir = "{self.dir / "cache"}"\n{extra}\n'
                            f'[[data.sources]]\nkind = "{kind}"\npath = "{filename}"\n')

    def run_copy(self, which: str = "base") -> Path:
        """A copy of a real run directory; the case damages its checkpoint."""
        assert self.runs is not None, "checkpoint cases need the runs fixture"
        return Path(shutil.copytree(self.runs[which], self.dir / which))

    def resume(self, checkpoint: Path) -> list[str]:
        return ["redheart", "run", str(QUICKSTART), "--quiet", "--samples", "40",
                "--resume", str(checkpoint), "--set", f'data.cache_dir="{self.cache}"']


@dataclass(frozen=True)
class Case:
    id: str
    group: str
    """profile, data, checkpoint or cli."""
    build: Callable[[Workspace], list[str]]
    """Writes the case's files; returns the command line (program first)."""
    expected: str
    needs: str = ""
    """"goemotions": the taxonomy files from ../shared/data; "runs": the real runs."""

    def pattern(self, ws: Workspace) -> re.Pattern[str]:
        text = self.expected.replace("{d}", str(ws.dir))
        return re.compile(".+".join(re.escape(part) for part in text.split("{*}")))


def config_case(id_: str, text: str | None, expected: str, *extra: str) -> Case:
    """`redheart config PROFILE` of a profile with this text ({p} is its path)."""
    def build(ws: Workspace) -> list[str]:
        path = ws.profile(text) if text is not None else str(ws.dir / "profile.toml")
        return ["redheart", "config", path, *extra]

    return Case(id_, "profile", build, expected.replace("{p}", "{d}/profile.toml"))


def row_case(id_: str, kind: str, content: str | bytes, expected: str) -> Case:
    """`redheart prepare` of one source holding these rows."""
    name = "bad.tsv" if kind == "goemotions" else "bad.jsonl"

    def build(ws: Workspace) -> list[str]:
        if kind == "goemotions":
            assert ws.taxonomy is not None
            for file in ("emotions.txt", "ekman_mapping.json"):
                shutil.copy(ws.taxonomy / file, ws.dir / file)
        ws.write(name, content)
        return ["redheart", "prepare", ws.data_profile(kind, name)]

    return Case(id_, "data", build, f"error: {{d}}/{name}:{expected}{SKIP_HINT}",
                "goemotions" if kind == "goemotions" else "")


def label_file_case(id_: str, name: str, content: str | bytes, expected: str) -> Case:
    """`redheart prepare` of a good GoEmotions row beside this emotions.txt or
    ekman_mapping.json (`name`); `expected` follows `error: {d}/NAME`."""
    def build(ws: Workspace) -> list[str]:
        argv = row_case(id_, "goemotions", GOOD_TSV, "").build(ws)
        ws.write(name, content)
        return argv

    return Case(id_, "data", build, f"error: {{d}}/{name}{expected}", "goemotions")


class _Payload:
    """Unpickling this would create `path`: proof that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


PAYLOAD_MARKER = "payload-ran"
"""The file the pickle payload would create, in the case's workspace."""


def checkpoint_case(id_: str, damage: Callable[[Path, Workspace], None], expected: str,
                    which: str = "base") -> Case:
    """`redheart run --resume CHECKPOINT` of a damaged copy of a real checkpoint."""
    def build(ws: Workspace) -> list[str]:
        run = ws.run_copy(which)
        folder = next((run / "checkpoints").glob("step-*"))
        damage(folder, ws)
        return ws.resume(folder)

    return Case(id_, "checkpoint", build, expected, "runs")


def _truncate(folder: Path, _ws: Workspace) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])


def _newer_schema(folder: Path, _ws: Workspace) -> None:
    meta = json.loads((folder / "state.json").read_text())
    (folder / "state.json").write_text(json.dumps({**meta, "schema": 99}))


def _pickle_payload(folder: Path, ws: Workspace) -> None:
    """A torch.save archive whose pickle carries the payload: a malicious checkpoint."""
    import torch

    torch.save({"state": _Payload(ws.dir / PAYLOAD_MARKER), "param_groups": []},
               folder / "optimizer.pt")


def _bare_pickle(folder: Path, ws: Workspace) -> None:
    """The payload as a bare pickle stream, not inside torch.save's zip archive."""
    with (folder / "optimizer.pt").open("wb") as f:
        pickle.dump({"state": _Payload(ws.dir / PAYLOAD_MARKER), "param_groups": []}, f)


def _pickled_lm(ws: Workspace) -> list[str]:
    """A labelling LM whose weights are only a pickle (pytorch_model.bin) with a payload."""
    from transformers import AutoTokenizer, GPT2Config

    from redheart.data.encoder import resolve_encoder_dir

    lm = ws.dir / "lm"
    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder_dir("all-MiniLM-L6-v2"))
    tokenizer.save_pretrained(lm)
    GPT2Config(vocab_size=tokenizer.vocab_size, n_embd=16, n_layer=1, n_head=2,
               bos_token_id=tokenizer.cls_token_id,
               eos_token_id=tokenizer.sep_token_id).save_pretrained(lm)
    with (lm / "pytorch_model.bin").open("wb") as f:
        pickle.dump({"transformer.wte.weight": _Payload(ws.dir / PAYLOAD_MARKER)}, f)
    ws.write("ok.jsonl", '{"text": "I am so sad", "emotion": "sadness"}\n')
    return ["redheart", "prepare", ws.data_profile("jsonl", "ok.jsonl"), "--label-with",
            str(lm)]


CKPT = "{d}/base/checkpoints/step-00000001"
FORMS = "pass a checkpoints/step-N folder, a run directory, or its checkpoints/best or last pointer"


def spelling_case(id_: str, damage: Callable[[Path], None],
                  argv: Callable[[Workspace, Path], list[str]], expected: str) -> Case:
    """A command given a checkpoint as users spell it (step folder, pointer, run directory),
    in a copy of the base run that `damage` changed; refused before any data work."""
    def build(ws: Workspace) -> list[str]:
        run = ws.run_copy()
        damage(run / "checkpoints")
        return argv(ws, run)

    return Case(id_, "checkpoint", build, expected, "runs")


def _prune_best(root: Path) -> None:
    (root / "best").write_text("step-00000009\n")


def _cut_write(root: Path) -> None:
    """The only checkpoint as a killed writer leaves it: under its temporary name."""
    (root / "step-00000001").rename(root / ".tmp-step-00000001-4242")


def _drop_weights(root: Path) -> None:
    (root / "step-00000001" / "model.safetensors").unlink()

CASES: list[Case] = [
    # ---------------------------------------------------------------- profiles
    config_case("syntax", "[train]\nlr = 1e-3\nbatch_size = \n",
                "error: {p}:3: TOML syntax error: Invalid value; fix the syntax on that line"),
    config_case("unknown-key", "[train]\nlr = 1e-3\nbatchsize = 4\n",
                "error: {p}:3: [train] unknown key 'batchsize'; did you mean 'batch_size'?"),
    config_case("unknown-section", "[trian]\nlr = 1e-3\n",
                "error: {p}:1: unknown section 'trian'; did you mean 'train'?"),
    config_case("nested-unknown-key", "[train.task_weights]\nemotoin = 2.0\n",
                "error: {p}:2: [train.task_weights] unknown key 'emotoin'; did you mean "
                "'emotion'?"),
    config_case("wrong-type", "[train]\nbatch_size = \"eight\"\n",
                "error: {p}:2: [train] batch_size = 'eight': expected an integer >= 1"),
    config_case("bool-as-int", "[checkpoint]\nevery_steps = true\n",
                "error: {p}:2: [checkpoint] every_steps = True: expected an integer >= 1"),
    config_case("out-of-range", "[train]\n\nbatch_size = 0\n",
                "error: {p}:3: [train] batch_size = 0: out of range, expected >= 1"),
    config_case("out-of-range-float", "[model]\ndropout = 1.5\n",
                "error: {p}:2: [model] dropout = 1.5: out of range, expected >= 0 and <= 0.9"),
    config_case("bad-choice", "[train]\ndevice = \"gpu\"\n",
                "error: {p}:2: [train] device = 'gpu': unknown value 'gpu'; valid: auto, cpu, "
                "cuda"),
    config_case("betas", "[train]\nbetas = [0.9, 1.5]\n",
                "error: {p}:2: [train] betas = [0.9, 1.5]: expected [beta1, beta2], each >= 0 "
                "and < 1"),
    config_case("unknown-module", "[model]\nmodules = [\"utilties\"]\n",
                "error: {p}:2: [model] modules: unknown module 'utilties'; did you mean "
                "'utilities'?"),
    config_case("missing-requirement", "[model]\nmodules = [\"kalman_filter\"]\n",
                "error: {p}:2: [model] modules: 'kalman_filter' needs 'emotion_analyzer' (it "
                "consumes its outputs); add 'emotion_analyzer' or remove 'kalman_filter'"),
    config_case("heads-divide", "[model]\nn_heads = 5\n",
                "error: {p}:2: [model] n_heads = 5 must divide d_model = 768; pick a divisor such "
                "as 4 or 6"),
    config_case("source-kind", "[[data.sources]]\nkind = \"goemotion\"\npath = \"x.tsv\"\n",
                "error: {p}:2: [data.sources[0]] kind = 'goemotion': unknown value "
                "'goemotion'; did you mean 'goemotions'?"),
    config_case("source-max-tokens", "[[data.sources]]\nkind = \"jsonl\"\npath = \"x.jsonl\"\n"
                "max_tokens = -3\n",
                "error: {p}:4: [data.sources[0]] max_tokens = -3: out of range, expected 0, or "
                ">= 8 and <= 8192"),
    config_case("source-truncation", "[[data.sources]]\nkind = \"jsonl\"\npath = \"x.jsonl\"\n"
                "truncation = \"middle\"\n",
                "error: {p}:4: [data.sources[0]] truncation = 'middle': unknown value 'middle'; "
                "valid: \"\", head, head_tail"),
    config_case("data-truncation", "[data]\ntruncation = \"tail\"\n",
                "error: {p}:2: [data] truncation = 'tail': unknown value 'tail'; valid: head, "
                "head_tail"),
    config_case("set-unknown-key", "",
                "error: --set train.lrr=3e-4: [train] unknown key 'lrr'; did you mean 'lr'?",
                "--set", "train.lrr=3e-4"),
    config_case("set-unknown-section", "",
                "error: --set trian.lr=3e-4: unknown section 'trian'; did you mean 'train'?",
                "--set", "trian.lr=3e-4"),
    config_case("set-wrong-type", "[train]\nlr = 1e-3\n",
                "error: --set train.lr=fast: [train] lr = 'fast': expected a number > 0 and <= 1",
                "--set", "train.lr=fast"),
    config_case("set-cross-field", "[model]\nd_model = 768\n",
                "error: --set model.n_heads=5: [model] n_heads = 5 must divide d_model = 768; "
                "pick a divisor such as 4 or 6", "--set", "model.n_heads=5"),
    config_case("set-unknown-module", "",
                "error: --set model.modules=utilties: [model] modules: unknown module "
                "'utilties'; did you mean 'utilities'?", "--set", "model.modules=utilties"),
    config_case("set-malformed", "",
                "error: --set train.lr: expected section.key=value (or section.table.key=value), "
                "e.g. --set train.lr=3e-4",
                "--set", "train.lr"),
    config_case("missing-profile", None,
                "error: {p}: profile not found; pass the path of a TOML file such as "
                "profiles/quickstart.toml"),
    Case("essential-disabled", "profile",
         lambda ws: ["redheart", "summary", ws.profile("[model]\ndisabled = "
                                                       "[\"regret_analyzer\"]\n"), "--json"],
         "error: {d}/profile.toml: [model] disabled: 'regret_analyzer' cannot be disabled in "
         "TRAINING (regret_analyzer is one of the original system's always-on analyzers); "
         "remove it from [model] disabled"),
    Case("missing-data-path", "profile",
         lambda ws: ["redheart", "prepare", ws.data_profile("jsonl", "nowhere.jsonl")],
         "error: {d}/profile.toml:6: [data.sources] path = 'nowhere.jsonl': {d}/nowhere.jsonl "
         "not found; fix the path (relative paths are relative to the profile's folder)"),
    Case("no-sources", "profile",
         lambda ws: ["redheart", "prepare", ws.profile("[run]\nname = 'x'\n")],
         "error: {d}/profile.toml: [data] has no sources; add [[data.sources]] entries{*}"),
    Case("encoder-not-a-model", "profile",
         lambda ws: ((ws.dir / "not-a-model").mkdir(), ws.write("ok.jsonl", '{"text": "I am '
                     'so sad", "emotion": "sadness"}\n'), ["redheart", "prepare", ws.data_profile(
                         "jsonl", "ok.jsonl", f'encoder = "{ws.dir / "not-a-model"}"')])[-1],
         "error: [data] encoder = '{d}/not-a-model': {d}/not-a-model is not a Hugging Face "
         "model directory (no config.json); name a local model directory (relative to the "
         "working directory) or 'all-MiniLM-L6-v2'"),
    Case("encoder-relative-not-found", "profile",     # the message says where it looked
         lambda ws: (ws.write("ok.jsonl", '{"text": "I am so sad", "emotion": "sadness"}\n'),
                     ["redheart", "prepare", ws.data_profile("jsonl", "ok.jsonl",
                                                             'encoder = "no-such-encoder"')])[-1],
         "error: [data] encoder = 'no-such-encoder': /{*}/no-such-encoder is not a Hugging "
         "Face model directory (no config.json); name a local model directory (relative to "
         "the working directory) or 'all-MiniLM-L6-v2'"),
    Case("max-tokens-past-the-encoder", "profile",
         lambda ws: (ws.write("long.jsonl", json.dumps({"text": "word " * 600, "emotion": "joy"})
                              + "\n"),
                     ["redheart", "prepare", ws.data_profile("jsonl", "long.jsonl",
                                                             "max_tokens = 1024")])[-1],
         "error: {d}/profile.toml:3: [data] max_tokens = 1024: the encoder 'all-MiniLM-L6-v2' "
         "reads at most 512 tokens; set max_tokens to 512 or less"),
    Case("source-max-tokens-past-the-encoder", "profile",
         lambda ws: (ws.write("long.jsonl", json.dumps({"text": "word " * 600, "emotion": "joy"})
                              + "\n"),
                     ["redheart", "data", "stats", ws.profile(
                         f'[data]\ncache_dir = "{ws.dir / "cache"}"\n\n[[data.sources]]\n'
                         f'kind = "jsonl"\npath = "long.jsonl"\nmax_tokens = 600\n')])[-1],
         "error: {d}/profile.toml:7: [[data.sources]] max_tokens = 600: the encoder "
         "'all-MiniLM-L6-v2' reads at most 512 tokens; set max_tokens to 512 or less"),
    # -------------------------------------------------------------------- data
    row_case("tsv-columns", "goemotions", GOOD_TSV + "only text here\n",
             "2: expected 3 tab-separated columns (text, label ids, id), got 1"),
    row_case("tsv-unknown-label-id", "goemotions", GOOD_TSV + "fine text\t3,41\tabc2\n",
             "2: label ids: 41 is not a label of emotions.txt (0..27)"),
    row_case("tsv-not-ids", "goemotions", GOOD_TSV + "fine text\tjoy\tabc2\n",
             "2: label ids: 'joy' is not a comma list of integers"),
    row_case("tsv-empty-text", "goemotions", GOOD_TSV + "   \t3\tabc2\n", "2: text: empty"),
    row_case("tsv-latin-1", "goemotions", GOOD_TSV.encode() + b"caf\xe9 au lait\t0\tabc2\n",
             "2: not UTF-8 (byte 0xe9 at column 4); save the file as UTF-8"),
    row_case("jsonl-latin-1", "scruples_anecdotes",
             b'{"title": "AITA for caf\xe9", "text": "x", "label_scores": {}}\n',
             "1: not UTF-8 (byte 0xe9 at column 24); save the file as UTF-8"),
    label_file_case("ekman-mapping-a-list", "ekman_mapping.json", '["joy"]\n',
                    ": expected an object of Ekman class: [GoEmotions labels]"),
    label_file_case("ekman-mapping-a-string", "ekman_mapping.json", '{"joy": "joy"}\n',
                    ": 'joy' must list GoEmotions labels, got 'joy'"),
    label_file_case("ekman-mapping-unknown-label", "ekman_mapping.json",
                    '{"joy": ["joy", "glee"]}\n', ": 'glee' is not a GoEmotions label"),
    label_file_case("emotions-latin-1", "emotions.txt", b"admiration\nd\xe9sir\n",
                    ": not UTF-8 (byte 0xe9 at line 2); save the file as UTF-8"),
    row_case("jsonl-invalid-json", "jsonl",
             '{"text": "ok", "emotion": "joy"}\n{"text": "broken",\n',
             "2: invalid JSON (Expecting property name enclosed in double quotes at column 19)"),
    row_case("jsonl-nan-target", "jsonl", '{"text": "I kept the money", "regret": NaN}\n',
             "1: regret: expected a finite number in [0, 1], got nan"),
    row_case("jsonl-out-of-range", "jsonl",
             '{"text": "I kept the money", "hedonic_value": 1.5}\n',
             "1: hedonic_value: 1.5 is out of range [-1, 1]"),
    row_case("jsonl-simplex", "jsonl",
             '{"text": "x", "surd": {"redundant": 0.5, "unique": 0.5, "synergistic": 0.5, '
             '"leak": 0.0}}\n', "1: surd: components sum to 1.5000, expected 1"),
    row_case("jsonl-unknown-label", "jsonl", '{"text": "I am thrilled", "emotion": "happy"}\n',
             "1: emotion: unknown class 'happy'; expected one of anger, disgust, fear, joy, "
             "sadness, surprise, neutral"),
    row_case("jsonl-unknown-key", "jsonl", '{"text": "I am thrilled", "emotoin": "joy"}\n',
             "1: unknown key 'emotoin'; did you mean 'emotion'?"),
    row_case("jsonl-empty-text", "jsonl", '{"text": "  ", "emotion": "joy"}\n',
             "1: text: missing or empty"),
    row_case("jsonl-votes-and-regret", "jsonl",
             '{"text": "x", "regret": 0.2, "votes": {"AUTHOR": 1, "OTHER": 2, "EVERYBODY": 0, '
             '"NOBODY": 0, "INFO": 0}}\n',
             "1: regret: give either votes or explicit regret/hedonic/SURD targets, not both"),
    # ------------------------------------------------------------- checkpoints
    checkpoint_case("truncated", _truncate,
                    f"error: {CKPT}/model.safetensors: damaged ({{*}}); use an earlier "
                    f"checkpoint"),
    checkpoint_case("other-architecture", lambda folder, ws: None,
                    "error: {d}/other/checkpoints/step-00000001: another architecture; modules "
                    "that differ: dsp_simulator, emotion_analyzer, kalman_filter; load it with "
                    "its own profile ({d}/other/checkpoints/step-00000001/config.toml)",
                    which="other"),
    checkpoint_case("newer-schema", _newer_schema,
                    f"error: {CKPT}: written by a newer Red Heart (checkpoint schema 99 > 1); "
                    f"upgrade to load it"),
    checkpoint_case("pickle-payload", _pickle_payload,
                    f"error: {CKPT}/optimizer.pt: refused (pickled Python objects, not only "
                    f"tensors: {{*}}); it holds more than tensors "
                    f"and numbers, or is damaged; use another checkpoint"),
    checkpoint_case("bare-pickle", _bare_pickle,
                    f"error: {CKPT}/optimizer.pt: refused (pickled Python objects, not only "
                    f"tensors: {{*}}); it holds more than tensors and numbers, or is damaged; "
                    f"use another checkpoint"),
    Case("init-from-other-architecture", "checkpoint",
         lambda ws: ["redheart", "run", str(QUICKSTART), "--quiet", "--set",
                     f"train.init_from={ws.run_copy('other')}/checkpoints/step-00000001"],
         "error: {d}/other/checkpoints/step-00000001: another architecture; modules that "
         "differ: dsp_simulator, emotion_analyzer, kalman_filter; load it with its own profile "
         "({d}/other/checkpoints/step-00000001/config.toml)", "runs"),
    spelling_case("validate-pruned-best", _prune_best,
                  lambda ws, run: ["redheart", "validate", str(run / "checkpoints" / "best")],
                  "error: {d}/base/checkpoints/step-00000009: the pointer names a missing folder "
                  "(pruned or deleted); pass a step-N folder that exists"),
    spelling_case("resume-half-written", _cut_write,
                  lambda ws, run: ws.resume(run / "checkpoints" / ".tmp-step-00000001-4242"),
                  "error: {d}/base/checkpoints/.tmp-step-00000001-4242: a half-written checkpoint "
                  "(its write was cut off); pass a step-N folder beside it"),
    spelling_case("grow-no-weights", _drop_weights,
                  lambda ws, run: ["redheart", "grow", str(run / "checkpoints" / "step-00000001"),
                                   "--out", str(ws.dir / "grown")],
                  f"error: {CKPT}: no model.safetensors; the checkpoint is incomplete, pick "
                  f"another"),
    spelling_case("init-from-run-without-checkpoints", _cut_write,
                  lambda ws, run: ["redheart", "run", str(QUICKSTART), "--quiet", "--set",
                                   f"train.init_from={run}"],
                  f"error: {QUICKSTART}: [train] init_from = '{{d}}/base': {{d}}/base: no "
                  f"checkpoint yet (nothing complete in {{d}}/base/checkpoints); wait for the "
                  f"run's first checkpoint"),
    spelling_case("validate-a-file", lambda root: None,
                  lambda ws, run: ["redheart", "validate", str(run / "events.jsonl")],
                  f"error: {{d}}/base/events.jsonl: a file, not a checkpoint; {FORMS}"),
    Case("labeler-pickled-weights", "checkpoint", _pickled_lm,
         "error: --label-with {d}/lm: cannot load the model ({*}); it must hold "
         "model.safetensors (pickled weights are never loaded)"),
    # --------------------------------------------------------------------- CLI
    Case("unknown-flag", "cli", lambda ws: ["redheart", "config", str(QUICKSTART), "--bogus"],
         "error: No such option: --bogus (see 'redheart config --help')"),
    Case("unknown-command", "cli", lambda ws: ["redheart", "frobnicate"],
         "error: No such command 'frobnicate'. (see 'redheart --help')"),
    Case("quiet-and-verbose", "cli",
         lambda ws: ["redheart", "run", str(QUICKSTART), "--quiet", "--verbose"],
         "error: --quiet and --verbose conflict; pass one of them"),
    Case("samples-zero", "cli", lambda ws: ["redheart", "run", str(QUICKSTART), "--samples", "0"],
         "error: Invalid value for '--samples': Input should be greater than or equal to 1 "
         "(see 'redheart run --help')"),
    Case("budget-gb-inf", "cli",
         lambda ws: ["redheart", "plan", str(ROOT / "profiles" / "cloud.toml"), "--budget-gb",
                     "inf"],
         "error: --budget-gb inf: expected a finite number of GiB >= 0.01, e.g. --budget-gb "
         "24; omit it to plan for GPU 0's free memory"),
    Case("lr-without-set-lr", "cli",
         lambda ws: ["redheart", "control", str(ws.run_copy()), "pause", "--lr", "0.1"],
         "error: set-lr needs --lr VALUE (and only set-lr takes --lr)", "runs"),
    Case("run-dir-under-a-file", "cli",
         lambda ws: ["redheart", "run", str(QUICKSTART), "--quiet", "--samples", "40",
                     "--run-dir", str(ws.write("notes.txt", "mine") / "run"), "--set",
                     f'data.cache_dir="{ws.cache}"'],
         "error: {d}/notes.txt/run: cannot create the run directory (Not a directory); "
         "choose another --run-dir or [run] runs_root"),
    Case("attach-and-remote", "cli",
         lambda ws: ["redheart-tui", "--attach", str(ws.dir), "--remote", "box:runs/x"],
         "error: argument --remote: not allowed with argument --attach (see 'redheart-tui "
         "--help')"),
]


@dataclass
class Outcome:
    code: int | None
    stderr: list[str]
    printed: tuple[str, str] = ("", "")
    """(stdout, stderr) exactly as printed."""


def execute(argv: list[str]) -> Outcome:
    """Run a command line in this process, as its console script would."""
    import torch

    from redheart.cli import main as redheart_main
    from tui.cli import main as tui_main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), torch.random.fork_rng([]), \
            _warnings_as_a_user_sees_them():
        try:
            code = (redheart_main if argv[0] == "redheart" else tui_main)(argv[1:])
        except SystemExit as exc:
            code = exc.code
    return Outcome(code, err.getvalue().splitlines(), (out.getvalue(), err.getvalue()))


@contextmanager
def _warnings_as_a_user_sees_them() -> Iterator[None]:
    """Python's default warning filters, printed to stderr (where a user would see them),
    even under pytest, which otherwise records them out of sight."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                         ResourceWarning):
            warnings.filterwarnings("ignore", category=category)
        warnings.showwarning = lambda message, category, filename, lineno, file=None, \
            line=None: sys.stderr.write(warnings.formatwarning(message, category, filename,
                                                               lineno, line))
        yield


def make_runs(root: Path, cache: str) -> dict[str, Path]:
    """Two real one-step quickstart runs: "base", and "other" without three optional modules."""
    import torch

    from redheart.cli import main as redheart_main

    runs = {}
    for name, extra in (("base", []), ("other", ["--set", "model.modules=utilities"])):
        runs[name] = root / name
        argv = ["run", str(QUICKSTART), "--quiet", "--samples", "40", "--run-dir", str(runs[name]),
                "--set", f'data.cache_dir="{cache}"', "--set", "train.max_steps=1", *extra]
        with redirect_stdout(io.StringIO()), torch.random.fork_rng([]):
            code = redheart_main(argv)
        if code != 0:
            raise RuntimeError(f"could not make the {name} run (exit {code})")
    return runs
