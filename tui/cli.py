"""`redheart-tui`: the console, in process, attached to a run directory, or over ssh."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from redheart.errors import RedHeartError
from redheart.render.run_outcome import best_on_disk, outcome_line

RUNS = Path("runs")


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes are one line and exit 2, like every redheart command."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see 'redheart-tui --help')\n")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = OneLineParser(
        prog="redheart-tui", description="Red Heart training console (Textual).")
    parser.add_argument("profile", nargs="?", type=Path,
                        help="TOML run profile to plan and train, e.g. profiles/quickstart.toml")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--attach", type=Path, metavar="RUN_DIR",
                       help="watch and control a run started by `redheart run`")
    where.add_argument("--remote", metavar="[USER@]HOST:PATH",
                       help="the same over your own ssh (no port is opened); PATH a run "
                            "directory, or a folder of runs for the Runs screen")
    parser.add_argument("--runs", type=Path, default=RUNS, metavar="FOLDER",
                        help="the folder the Runs screen lists (default: runs); without a "
                             "profile, --attach or --remote the console opens on it")
    parser.add_argument("--ssh-command", default="ssh",
                        help="program (and options) used to reach --remote (default: ssh)")
    parser.add_argument("--remote-redheart", default="redheart",
                        help="the redheart command on the remote host")
    parser.add_argument("--set", action="append", default=[], dest="overrides",
                        metavar="SECTION.KEY=VALUE", help="override a profile value")
    parser.add_argument("--samples", type=int, metavar="N",
                        help="read at most N rows of each data source")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    if args.samples is not None and args.samples < 1:
        parser.error("--samples must be at least 1")
    if args.remote and args.profile:
        parser.error("--remote takes its profile from the remote run; drop PROFILE")
    if args.remote is not None:     # checked here: inside the app it was a traceback, exit 0
        from tui.event_source import parse_remote

        try:
            parse_remote(args.remote)
        except ValueError as exc:
            parser.error(str(exc))
    if args.attach is not None and not (args.attach / "events.jsonl").is_file():
        parser.error(f"--attach {args.attach}: not a run directory (no events.jsonl)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from tui.app import RedHeartApp  # Textual loads only once the arguments are good
    from tui.runs_source import LocalRuns

    # The training thread and the UI share the GIL; a longer switch interval lets the
    # trainer's Python run in longer slices (the UI only needs a few frames a second).
    sys.setswitchinterval(0.02)

    try:
        if args.profile is not None:   # a bad profile is one line and exit 2, before the UI
            from redheart.config_load import load_profile

            load_profile(args.profile, args.overrides)
        alone = args.profile is None and args.attach is None and args.remote is None
        app = RedHeartApp(args.profile, args.overrides, args.attach, args.remote,
                          args.ssh_command, args.remote_redheart, samples=args.samples,
                          runs=LocalRuns(args.runs) if alone or args.runs != RUNS else None)
        app.run()
    except RedHeartError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if not app.training_done.is_set():   # this process's own run, or its start, goes on
        stopping = app.exit_choice == "stop"      # sent from the quit dialog
        if not stopping:
            run = app.own_run
            print(f"training continues headless in this process ({run}); attach with: "
                  f"redheart-tui --attach {run}" if run is not None and run.exists() else
                  "the start goes on headless in this process, reading its data; its run "
                  "folder is made when training starts (see `redheart runs`)", flush=True)
            try:
                app.training_done.wait()
            except KeyboardInterrupt:
                app.stop_own_run()      # during the data read: the start is cancelled
                stopping = True
        if stopping:
            print("stopping: the start is cancelled, no run folder is made"
                  if app.start_cancelled else "stopping: a checkpoint is written first",
                  flush=True)
            app.training_done.wait()
        made = app.ended_run or (app.own_run if app.own_run and app.own_run.exists() else None)
        for line in outcome_lines(made, app.outcome, app.training_error, app.total_steps):
            print(line, flush=True)
        if app.training_error:
            return 1
    return 0


def outcome_lines(run_dir: Path | None, outcome: Any, error: str | None,
                  total_steps: int | None) -> list[str]:
    """What `redheart run` prints when a run ends (reason, step, best, last checkpoint,
    run directory), for a run that ended after the console had quit: without it the
    process just exited, and the shell never learnt how the run went or where it is."""
    if run_dir is None:             # cancelled or refused before its folder was made
        return [f"error: {error}"] if error else []
    if error:
        lines = [f"failed: {error}"]
    elif outcome is not None:
        lines = [outcome_line(outcome.reason, outcome.state.step, total_steps,
                              best_on_disk(run_dir), outcome.last_checkpoint)]
    else:
        lines = []
    return [*lines, f"run directory {run_dir}"]


if __name__ == "__main__":
    sys.exit(main())
