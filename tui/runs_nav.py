"""The console's way between runs: the Runs screen, opening a run, starting a new one.

A mixin of RedHeartApp, kept apart so app.py stays about one run's panels
and controls. Opening a run is what `--attach` (or `--remote`) does at
start-up, done again: the panels are emptied, the new run's event stream
replaces the old one, and its notices are watched. A run started in this
process keeps training when another is opened; it is in the Runs list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from textual import work
from textual.message import Message

from redheart.config import NotifyConfig
from redheart.config_load import load_profile
from redheart.errors import RedHeartError
from redheart.runs.listing import RunSummary
from tui.event_source import parse_remote
from tui.notices import NoticeWatch
from tui.run_view import RunView
from tui.runs_screen import RunsScreen
from tui.runs_source import LocalRuns, RunsError, RunsSource, SshRuns


@dataclass
class RemoteProbed(Message):
    """What `--remote HOST:PATH` named: its listing (one row naming PATH itself when it
    is a run directory), or why the far side could not list it."""

    runs: list[RunSummary]
    error: str | None = None


def names_the_run(runs: list[RunSummary], path: str) -> bool:
    """Whether a listing of `path` says that `path` is itself a run directory."""
    return len(runs) == 1 and PurePosixPath(str(runs[0].path)) == PurePosixPath(path)


class RunsNavigation:
    """Needs the app's view, source, panels, connect() and reset_panels()."""

    runs_source: RunsSource | None = None

    def default_runs_source(self) -> RunsSource:
        """Where the Runs screen lists when none was given: the folder of the run shown,
        else the profile's runs_root, else runs/."""
        app = self  # type: ignore[assignment]
        if app.remote is not None:
            host, run_dir = parse_remote(app.remote)
            return SshRuns(host, str(PurePosixPath(run_dir).parent), app.ssh_command,
                           app.remote_redheart)
        if app.attach is not None:
            return LocalRuns(Path(app.attach).parent)
        return LocalRuns(Path(app.config.run.runs_root) if app.config else Path("runs"))

    def action_runs(self) -> None:
        app = self  # type: ignore[assignment]
        if not isinstance(app.screen, RunsScreen):
            app.runs_source = app.runs_source or app.default_runs_source()
            app.push_screen(RunsScreen(app.runs_source))

    def open_run(self, source: RunsSource, run: str) -> None:
        """Show `run` in the console's panels: followed while live, replayed if ended."""
        app = self  # type: ignore[assignment]
        events, controller = source.open(run)
        app.runs_source = source
        if isinstance(source, SshRuns):
            app.attach, app.remote = None, f"{source.host}:{run}"
            app.config = None
        else:
            app.attach, app.remote = Path(run), None
            config_file = Path(run) / "config.toml"
            app.profile = config_file if config_file.is_file() else None
            app.config = _load_or_none(app.profile)
        app.view = RunView()
        app.reset_panels()
        app.connect(events, controller)
        while len(app.screen_stack) > 1:
            app.pop_screen()

    def new_run(self, profile: Path, root: Path) -> None:
        """Start `profile` in this process, writing into `root` (the Runs screen's folder,
        so the run is listed there)."""
        app = self  # type: ignore[assignment]
        if not app.training_done.is_set():
            app.notify("a run started here is still training; stop it first",
                       severity="warning")
            return
        if app.source is not None:
            app.source.close()
        app.source = app.controller = None
        app.attach = app.remote = None
        app.profile = profile
        app.overrides = (*(o for o in app.overrides if not o.startswith("run.runs_root=")),
                         f'run.runs_root="{root}"')
        app.config = load_profile(profile, app.overrides)
        app.view = RunView()
        app.reset_panels()
        while len(app.screen_stack) > 1:
            app.pop_screen()
        app.recompute_forecast()
        app.action_start()

    def watch_notices(self, label: str) -> None:
        """Notices for the run now shown (its name is its directory's)."""
        app = self  # type: ignore[assignment]
        minutes = (app.config.notify if app.config else NotifyConfig()).stall_minutes
        app.notices = NoticeWatch(PurePosixPath(label.split(":")[-1]).name or label, minutes)

    @work(thread=True, exclusive=True, group="probe")
    def probe_remote(self) -> None:
        """Ask the far side what --remote names: a run directory, or a folder of runs."""
        app = self  # type: ignore[assignment]
        host, path = parse_remote(app.remote)
        try:
            runs = SshRuns(host, path, app.ssh_command, app.remote_redheart).runs()
        except RunsError as exc:
            app.post_message(RemoteProbed([], str(exc)))
            return
        app.post_message(RemoteProbed(runs))

    def on_remote_probed(self, message: RemoteProbed) -> None:
        app = self  # type: ignore[assignment]
        host, path = parse_remote(app.remote)
        if message.error is None and not names_the_run(message.runs, path):
            app.runs_source = SshRuns(host, path, app.ssh_command, app.remote_redheart)
            app.push_screen(RunsScreen(app.runs_source))
            return
        # a run directory, or a far side that cannot list (an older redheart): attach, and
        # let the event stream say what is wrong, if anything is
        app.open_run(SshRuns(host, str(PurePosixPath(path).parent), app.ssh_command,
                             app.remote_redheart), path)


def _load_or_none(profile: Path | None):
    """A run's own config.toml, for its stall minutes; a run too old or damaged to load is
    still shown (the stall watch then takes the default)."""
    if profile is None:
        return None
    try:
        return load_profile(profile)
    except RedHeartError:
        return None
