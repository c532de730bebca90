"""The `redheart` command line (typer).

Every command takes `--set section.key=value` overrides and `--debug`. User
errors print one line and exit 2; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from redheart.config import Config
from redheart.config_load import load_profile
from redheart.errors import RedHeartError
from redheart.model.catalog import ExecutionMode

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Red Heart training console: profiles, model summary, training and tools.",
)

ProfileArg = Annotated[Path, typer.Argument(help="TOML run profile, e.g. profiles/quickstart.toml")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="Override a profile value: section.key=value (repeatable).")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@contextmanager
def user_errors(debug: bool) -> Iterator[None]:
    """Turn a RedHeartError into one stderr line and exit 2 (traceback with --debug)."""
    try:
        yield
    except RedHeartError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None


def _load(profile: Path, overrides: list[str] | None) -> Config:
    return load_profile(profile, overrides or ())


def with_notify_urls(config: Config, urls: list[str]) -> Config:
    """`--notify URL`: notified besides the profile's [notify] urls."""
    if not urls:
        return config
    notify = dataclasses.replace(config.notify, urls=(*config.notify.urls, *urls))
    return dataclasses.replace(config, notify=notify)


@app.command()
def summary(
    profile: ProfileArg,
    json_out: JsonOpt = False,
    mode: Annotated[ExecutionMode, typer.Option(
        "--mode", help="Which modules are built: training, evaluation or inference.")
    ] = ExecutionMode.TRAINING,
    set_: SetOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Parameters per module, counted without allocating the model."""
    with user_errors(debug):
        from redheart.model.summary import model_summary  # imports torch

        config = _load(profile, set_)
        result = model_summary(config.model, mode, config.source)
        if json_out:
            typer.echo(json.dumps(result, indent=2))
        else:
            from redheart.render.summary_table import print_summary

            print_summary(result, title=f"{profile} ({mode.value})")


@app.command("config")
def show_config(
    profile: ProfileArg,
    set_: SetOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Print the fully resolved profile (defaults and overrides applied) as TOML."""
    with user_errors(debug):
        from redheart.config_toml import dumps

        typer.echo(dumps(_load(profile, set_)), nl=False)


@app.command()
def plan(
    profile: ProfileArg,
    budget_gb: Annotated[float | None, typer.Option(
        "--budget-gb", min=0.01, help="GPU memory budget in GiB (default: memory.budget_gb, "
        "else the free memory of GPU 0).")] = None,
    gpus: Annotated[int, typer.Option(
        "--gpus", min=1, help="Plan one rank of a torchrun job of N GPUs (DDP, or FSDP2 "
        "shards as \\[distributed] strategy decides).")] = 1,
    json_out: JsonOpt = False,
    set_: SetOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Forecast training memory per module and pick savers until it fits; exit 3 if none fits."""
    with user_errors(debug):
        from redheart.memory.selector import DoesNotFitError, plan_for
        from redheart.render.plan_table import print_plan
        from redheart.train.distributed import strategy_for
        from redheart.train.run import model_parameters

        config = _load(profile, set_)
        strategy = strategy_for(config, model_parameters(config)) if gpus > 1 else "none"
        result = plan_for(config, budget_gb=budget_gb, world=gpus, strategy=strategy)
        if json_out:
            typer.echo(json.dumps(result.as_json(), indent=2))
        else:
            print_plan(result.as_json(), str(profile))
        if result.fits is False:
            raise DoesNotFitError(result.shortfall())


@app.command()
def run(
    profile: ProfileArg,
    run_dir: Annotated[Path | None, typer.Option(
        "--run-dir", help="Run directory (default: runs_root/<name>-<timestamp>).")] = None,
    resume: Annotated[str | None, typer.Option(
        "--resume", help="Continue from 'last' or 'best' (of --run-dir, else of the newest "
        "run), or a path: a checkpoint folder, a best/last pointer or a run directory.")
    ] = None,
    samples: Annotated[int | None, typer.Option(
        "--samples", min=1, help="Read at most N rows of each data source.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress output.")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", help="A line for every step (instead of about 50 per run).")] = False,
    notify: Annotated[list[str] | None, typer.Option(
        "--notify", help="Also notify this apprise URL (slack://..., ntfy://..., "
        "mailto://...) on \\[notify] on's happenings (repeatable).")] = None,
    profile_steps: Annotated[int, typer.Option(
        "--profile-steps", min=0, help="Record N steps (after the launch's first two) with "
        "torch.profiler into RUN_DIR/profile/*.pt.trace.json, for Perfetto or TensorBoard."
    )] = 0,
    set_: SetOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Train headless: Rich progress on a TTY, timestamped lines otherwise (nohup, tee, CI)."""
    with user_errors(debug):
        from redheart.render.run_progress import RunReporter
        from redheart.train.run import run_training

        if quiet and verbose:
            raise RedHeartError("--quiet and --verbose conflict; pass one of them")
        config = with_notify_urls(_load(profile, set_), notify or [])
        try:
            run_training(config, profile.resolve().parent, RunReporter(quiet, verbose=verbose),
                         run_dir, resume, samples, profile_steps=profile_steps)
        except KeyboardInterrupt:   # a second Ctrl-C (or one before training): said, not
            # a silent exit 130 that left the user to guess what was saved
            typer.echo("error: interrupted (SIGINT): stopped at once, without a checkpoint "
                       "of the steps since the last one; continue with --resume last",
                       err=True)
            raise typer.Exit(130) from None


class RunsSort(str, Enum):
    """How `redheart runs` orders its rows (redheart.runs.listing.SORTS)."""

    newest = "newest"
    best = "best"


class EvalSplit(str, Enum):
    """The splits `validate` reports on (redheart.data.split.EVAL_SPLITS)."""

    dev = "dev"
    test = "test"


CHECKPOINT_HELP = ("A checkpoint: runs/NAME/checkpoints/step-N, its checkpoints/best or last "
                   "pointer, or the run directory runs/NAME (its best checkpoint).")


@app.command()
def validate(
    checkpoint: Annotated[Path, typer.Argument(help=CHECKPOINT_HELP)],
    profile: Annotated[Path | None, typer.Option(
        "--profile", help="Profile to read data from (default: the checkpoint's own).")] = None,
    split: Annotated[EvalSplit, typer.Option(
        "--split", help="dev (what picked best) or test (sources marked split = \"test\": "
        "never trained on, never used to pick best).")] = EvalSplit.dev,
    device: Annotated[str, typer.Option(
        "--device", help="cpu or cuda: where the model (and a fine-tuned encoder) runs.")
    ] = "cpu",
    json_out: JsonOpt = False,
    set_: SetOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Task metrics on dev or test, beside prior and linear-probe baselines, with 95% CIs.

    Bootstrap intervals: 1,000 resamples with a fixed seed, for the model and baselines alike."""
    with user_errors(debug):
        from rich.console import Console

        from redheart.render.encoding_progress import encoding_progress
        from redheart.train.validate import validate as run_validate

        with encoding_progress(Console(stderr=True)) as advance:
            result = run_validate(checkpoint, profile, set_ or [], split.value, device,
                                  advance)
        if json_out:
            typer.echo(json.dumps(result, indent=2))
        else:
            from redheart.render.validate_table import print_validation

            print_validation(result, result["checkpoint"])


@app.command()
def grow(
    checkpoint: Annotated[Path, typer.Argument(help=CHECKPOINT_HELP)],
    out: Annotated[Path, typer.Option(
        "--out", help="New folder for the grown checkpoint and its profile.")],
    factor: Annotated[int, typer.Option(
        "--factor", help="Parameter multiplier, a perfect square: 4 doubles every width.")] = 4,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Compare both models on real batches (fp32); fail above 1e-4.")
    ] = False,
    noise_db: Annotated[float | None, typer.Option(
        "--noise-db", help="Paired symmetry-breaking noise at this SNR in dB, > 0 (e.g. 20).")
    ] = None,
    new_layers: Annotated[int, typer.Option(
        "--new-layers", min=0, help="Backbone layers to add, starting as identities.")] = 0,
    batches: Annotated[int, typer.Option(
        "--verify-batches", min=1, help="Real batches --verify runs.")] = 4,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the noise and new layers.")] = 0,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Widen a checkpoint function-preservingly (HyperCloning): ~FACTOR x the parameters."""
    with user_errors(debug):
        from redheart.grow_command import grow_checkpoint
        from redheart.render.grow_report import print_deltas, print_grown

        report = grow_checkpoint(
            checkpoint, out, factor, noise_db, new_layers, verify, batches, seed,
            on_verified=None if json_out else lambda r: print_deltas(r.as_json()))
        if json_out:
            typer.echo(json.dumps(report.as_json(), indent=2))
        else:
            print_grown(report.as_json())


@app.command()
def predict(
    model: Annotated[Path, typer.Argument(
        help="A checkpoint folder, a run directory (its best, else last), a best/last pointer, "
             "or a folder written by `redheart export`.")],
    texts: Annotated[list[str] | None, typer.Argument(
        help="Texts to predict; none and no --file: the texts piped into stdin.")] = None,
    file: Annotated[str | None, typer.Option(
        "--file", help="Texts one a line, or a .jsonl file of objects with a \"text\" field; "
        "- reads stdin as a stream (one answer per line).")] = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="One JSON object per text and line (schema in the README).")] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write to this file (atomically, at the end) instead of stdout; a .jsonl "
        "file gets JSON lines, as with --json.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Texts per forward pass.")
                          ] = 64,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda.")] = "cpu",
    show_all: Annotated[bool, typer.Option(
        "--all", help="Also show outputs no labelled row trained, marked untrained.")] = False,
    set_: SetOpt = None,
    debug: DebugOpt = False,
) -> int:
    """Run a trained model on texts: emotion, sentiment, regret, hedonic value, SURD."""
    with user_errors(debug):
        from redheart.inference.predict_command import run_predict

        status = run_predict(model, texts or [], file, json_out, out, batch_size, device,
                             show_all, set_ or [])
    if status:
        raise typer.Exit(status)
    return 0


@app.command()
def export(
    checkpoint: Annotated[Path, typer.Argument(
        help="A checkpoint folder, a run directory (its best, else last) or a best/last "
             "pointer.")],
    out: Annotated[Path, typer.Option("--out", help="New folder for the export.")],
    dtype: Annotated[str, typer.Option(
        "--dtype", help="Weights as float32, bfloat16 or float16.")] = "float32",
    metrics: Annotated[Path | None, typer.Option(
        "--metrics", help="Output of `redheart validate CHECKPOINT --json`, for the model "
        "card.")] = None,
    debug: DebugOpt = False,
) -> None:
    """A self-contained folder that `predict` and `redheart.load` accept (no optimizer state)."""
    with user_errors(debug):
        from redheart.inference.export import export_model

        meta = export_model(checkpoint, out, dtype, metrics)
        typer.echo(f"exported step {meta['step']} of {meta['source']} to {out} "
                   f"({meta['dtype']}); try: redheart predict {out} \"Some text.\"")


SkipBadOpt = Annotated[bool, typer.Option(
    "--skip-bad-rows", help="Skip malformed data rows (counted and reported) instead of stopping.")]


@app.command()
def prepare(
    profile: ProfileArg,
    skip_bad_rows: SkipBadOpt = False,
    label_with: Annotated[Path | None, typer.Option(
        "--label-with", help="Local causal LM directory: fill missing targets of jsonl sources.")
    ] = None,
    label_int8: Annotated[bool, typer.Option(
        "--label-int8", help="Run the labelling LM with int8 dynamic quantization (CPU).")
    ] = False,
    set_: SetOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Read the data sources, derive targets and fill the encoder cache."""
    with user_errors(debug):
        from redheart.render.prepare_report import run_prepare

        config = _load(profile, set_)
        run_prepare(config, profile.resolve().parent, skip_bad_rows, label_with, label_int8)


@app.command()
def events(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (holds events.jsonl).")],
    follow: Annotated[bool, typer.Option(
        "--follow", "-f", help="Keep printing new events until the run finishes.")] = False,
    json_out: Annotated[bool, typer.Option(
        "--json", help="One JSON event a line, exactly as written.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Print a run's event stream for scripts and remote consoles (ssh host redheart events)."""
    with user_errors(debug):
        from redheart.render.event_lines import event_line
        from redheart.runs.events import follow_events

        for event in follow_events(run_dir, follow):
            if event.get("type") == "gap":
                typer.echo(f"warning: events {event['missing']} are missing from "
                           f"{run_dir}/events.jsonl (cut or corrupted lines)", err=True)
                continue
            typer.echo(json.dumps(event, separators=(",", ":")) if json_out
                       else event_line(event))


@app.command()
def control(
    run_dir: Annotated[Path, typer.Argument(help="The run directory of a live run.")],
    command: Annotated[str, typer.Argument(
        help="pause, resume, stop, save-now or set-lr.")],
    lr: Annotated[float | None, typer.Option("--lr", help=(
        "For set-lr: the new peak LR. The warmup and cosine schedule is rescaled to it, so a "
        "step's LR is this times the schedule's factor at that step."))] = None,
    debug: DebugOpt = False,
) -> None:
    """Send a control command to a run (what the console does, locally or over ssh)."""
    with user_errors(debug):
        from redheart.train.control import send_checked

        send_checked(run_dir, command, lr)


@app.command()
def runs(
    root: Annotated[Path | None, typer.Argument(
        help="Folder holding run directories (default: --profile's runs_root, else runs/).",
        show_default=False)] = None,
    profile: Annotated[Path | None, typer.Option(
        "--profile", help="Take the folder from this profile's \\[run] runs_root.")] = None,
    sort: Annotated[RunsSort, typer.Option(
        "--sort", help="newest first, or best: the lowest best eval loss first (runs not "
        "evaluated yet last).")] = RunsSort.newest,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Every run under a folder, newest first, with its status, step and best eval loss.

    --sort best puts the lowest best eval loss first.
    Status: live, finished, stopped, failed, killed or damaged.
    Also samples/s, start, duration and size."""
    with user_errors(debug):
        from redheart.runs.listing import list_runs, sort_runs

        if root is None:
            root = Path(_load(profile, None).run.runs_root) if profile else Path("runs")
        rows = sort_runs(list_runs(root), sort.value)
        if json_out:
            typer.echo(json.dumps([row.as_json() for row in rows], indent=2))
        else:
            from redheart.render.runs_table import print_runs

            print_runs(rows, str(root))


@app.command()
def diff(
    run_a: Annotated[Path, typer.Argument(help="A run directory.")],
    run_b: Annotated[Path, typer.Argument(help="Another run directory.")],
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The resolved config keys two runs differ in, then their final and best metrics."""
    with user_errors(debug):
        from redheart.runs.config_diff import diff_runs

        result = diff_runs(run_a, run_b)
        if json_out:
            typer.echo(json.dumps(result, indent=2))
        else:
            from redheart.render.run_diff import print_diff

            print_diff(result)


@app.command("export-metrics")
def export_metrics(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (holds events.jsonl).")],
    tensorboard: Annotated[Path | None, typer.Option(
        "--tensorboard", help="Write TensorBoard event files into this folder.")] = None,
    csv_out: Annotated[Path | None, typer.Option(
        "--csv", help="Write a CSV of wall_time, step, tag, value rows.")] = None,
    debug: DebugOpt = False,
) -> None:
    """A run's scalars as TensorBoard event files or CSV.

    Loss per task, eval metrics, LR, gradient norms, samples/s and memory."""
    with user_errors(debug):
        from redheart.runs import export_metrics as export

        if tensorboard is None and csv_out is None:
            raise RedHeartError("export-metrics: pass --tensorboard DIR, --csv PATH or both")
        if csv_out is not None:
            export.check_csv_out(csv_out)   # before --tensorboard writes anything
        if tensorboard is not None:
            count = export.export_tensorboard(run_dir, tensorboard)
            typer.echo(f"{count} scalars to {tensorboard}; view: tensorboard --logdir "
                       f"{tensorboard}")
        if csv_out is not None:
            count = export.export_csv(run_dir, csv_out)
            typer.echo(f"{count} rows to {csv_out}")


@app.command()
def plot(
    run_dirs: Annotated[list[Path], typer.Argument(help="One or more run directories.")],
    out: Annotated[Path, typer.Option("--out", help="The picture: a .png or .svg file.")],
    width: Annotated[int, typer.Option("--width", min=200, max=10000, help="Pixels.")] = 1200,
    height: Annotated[int, typer.Option("--height", min=200, max=10000, help="Pixels.")
                      ] = 800,
    smoothing: Annotated[float | None, typer.Option(
        "--smoothing", min=0.0, help="EMA weight of the training loss in [0, 1) (default: the "
        "console's); 0 draws the raw values only.", show_default=False)] = None,
    debug: DebugOpt = False,
) -> None:
    """Training loss and eval loss of runs against the step, one colour per run."""
    with user_errors(debug):
        from redheart.runs.plot import plot_runs

        plot_runs(run_dirs, out, width, height, smoothing)
        typer.echo(f"wrote {out} ({width}x{height})")


data_app = typer.Typer(no_args_is_help=True,
                       help="Get the public data sets, and inspect the data a profile trains on.")
app.add_typer(data_app, name="data")


class DatasetName(str, Enum):
    """The data sets `data download` knows (the pin table's names)."""

    goemotions = "goemotions"
    scruples = "scruples"


@data_app.command("download")
def data_download(
    names: Annotated[list[DatasetName] | None, typer.Argument(
        help="goemotions, scruples (default: both).", show_default=False)] = None,
    to: Annotated[Path | None, typer.Option(
        "--to", help="Data folder (default: ../shared/data beside the project, the folder the "
        "shipped real-data profiles read).", show_default=False)] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Fetch and verify again files already present, and replace files "
        "that are not the pinned ones.")] = False,
    pin: Annotated[bool, typer.Option(
        "--pin", help="Also fetch files with no pinned checksum yet: check them with the "
        "project's readers, then record their size and sha256 in the pin table (commit it).")
    ] = False,
    pins: Annotated[Path | None, typer.Option("--pins", hidden=True)] = None,
    debug: DebugOpt = False,
) -> None:
    """Fetch GoEmotions and Scruples from their publishers, checked and laid out for use.

    Each file is checked against its pinned sha256 and laid out as the profiles read it.
    Resumable; exit 1 on a network failure or a checksum mismatch."""
    with user_errors(debug):
        from redheart.data.download.pins import DEFAULT_PINS, DEFAULT_ROOT, load_pins
        from redheart.data.download.run import download
        from redheart.render.download_progress import DownloadProgress

        table = load_pins(pins or DEFAULT_PINS)
        reporter = DownloadProgress()
        try:
            download([n.value for n in names or ()], to or DEFAULT_ROOT, table, reporter,
                     force, pin)
        finally:
            reporter.close()


@data_app.command("stats")
def data_stats(
    profile: ProfileArg,
    json_out: JsonOpt = False,
    skip_bad_rows: SkipBadOpt = False,
    set_: SetOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Per source: rows, labelled counts per task, class frequencies, lengths in tokens."""
    with user_errors(debug):
        from redheart.data.prepare import check_sources
        from redheart.data.prepared import load_sources
        from redheart.data.stats import data_stats as compute

        config = _load(profile, set_)
        check_sources(config, profile.resolve().parent)
        sources = load_sources(config.data.sources, profile.resolve().parent,
                               config.data.cache_dir,
                               skip_bad_rows or config.data.skip_bad_rows)
        stats = compute(sources, config.data)
        if json_out:
            typer.echo(json.dumps(stats, indent=2))
        else:
            from redheart.render.stats_table import print_stats

            print_stats(stats)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; usage errors are one line and exit 2 as well."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv if argv is not None else sys.argv[1:],
                              prog_name="redheart", standalone_mode=False)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except typer.TyperException as exc:  # typer's (vendored click's) usage errors
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help())
            return 2
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        typer.echo(f"error: {exc.format_message()}{where}", err=True)
        return getattr(exc, "exit_code", 2) or 2
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
