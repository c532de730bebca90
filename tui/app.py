"""The Red Heart console: modules, memory forecast vs live usage, loss, run control.

Every figure on screen comes from one of two places: a memory plan computed
by the library in a worker thread, or the run's event stream, tailed and
applied in batches at most 10 times a second. Commands go out only through
the run directory's control channel (or ssh to it), so a console started
with the run and one attached later are the same program.
"""

from __future__ import annotations

import shlex
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container
from textual.widgets import Header, Input, Static, Tab, Tabs

from redheart.config import Config
from redheart.config_load import load_profile
from redheart.errors import RedHeartError, StartCancelled
from redheart.notify.rules import Notice
from redheart.train.reporter import QuietReporter
from tui.compare_screen import CompareScreen
from tui.event_source import (
    Controller,
    EventSource,
    FileEventSource,
    LocalController,
    parse_remote,
)
from tui.layout import TITLES, is_wide, tab_order
from tui.messages import ForecastReady, ModuleToggled, StartRefused, TrainingEnded
from tui.notices import NoticeWatch, osc9
from tui.predict_client import PredictTarget
from tui.run_view import RunView
from tui.runs_nav import RunsNavigation
from tui.runs_screen import RunsScreen
from tui.runs_source import RunsSource
from tui.screens import HELP, HelpScreen, QuitScreen
from tui.try_screen import TryScreen
from tui.widgets.gradients_panel import GradientsPanel
from tui.widgets.key_footer import KeyFooter
from tui.widgets.loss_panel import LossPanel
from tui.widgets.memory_panel import MemoryPanel
from tui.widgets.modules_panel import ModulesPanel
from tui.widgets.run_panel import RunPanel
from tui.widgets.throughput_panel import ThroughputPanel

REFRESH_S = 0.5
"""Event batches are applied, and changed panels redrawn, twice a second: under the 10 Hz
ceiling and the 1 s freshness goal, and cheap for a training thread that shares the GIL
and, on a small machine, its cores with the UI."""
CHARTS_S = 1.0
"""The charts and the gradients table are redrawn at most once a second (the figures at
every batch): they are most of what a redraw costs the training thread, and a curve a
second old reads the same. Redrawn on a batch's tick, never on a timer of their own, so
the screen is composed once per tick."""
LIVE = ("starting", "running", "paused", "stopping")
RUN_ACTIONS = frozenset({"start", "pause", "resume", "stop", "save_now", "set_lr", "try_model",
                         "runs"})


class SilentReporter(QuietReporter):
    """run_training's reporter inside the console: the terminal belongs to Textual, so
    only the encoding progress is told (in the title bar), until training starts."""

    def __init__(self, app: RedHeartApp | None) -> None:
        self.app = app
        """Where encoding progress goes (None: nowhere, as in the overhead benchmark)."""
        self.encoded = 0

    def encoding(self, done: int, total: int) -> None:
        """`done` is how many more texts were encoded (Rich's advance), not a running
        count: shown as given, the title read "encoding texts 64/M" until the run ended.
        A Stop pressed meanwhile ends the start here, between two batches (the cache
        removes its partial shard), not after the whole encoding."""
        self.encoded += done
        if self.app is not None:
            if self.app.start_cancelled:
                raise StartCancelled("the start was cancelled while its texts were "
                                     "encoded; no run folder was created")
            self.app.from_training(self.app.set_status,
                                   f"encoding texts {min(self.encoded, total)}/{total}")

    def started(self, run_dir: Path, trainer: Any) -> None:
        """Training starts: the title names the run again, and a Stop pressed while the
        directory was being set up (after the last check of `cancelled`, before the
        engine read its control channel, which skips older lines) is sent now."""
        if self.app is not None:
            self.app.total_steps = trainer.total_steps
            if self.app.mark_started(run_dir):
                LocalController(run_dir).send("stop")
            self.app.from_training(self.app.clear_status)

    def finished(self, run_dir: Path, outcome: Any) -> None:
        """Kept for the line `redheart-tui` prints once a run left training headless ends
        (the terminal is the shell's again by then, and nothing else would tell it)."""
        if self.app is not None:
            self.app.outcome, self.app.ended_run = outcome, run_dir


class RedHeartApp(RunsNavigation, App):
    CSS_PATH = "styles.tcss"
    TITLE = "Red Heart"
    BINDINGS = [
        Binding("s", "start", "Start"),
        Binding("p", "pause", "Pause"),
        Binding("r", "resume", "Resume"),
        Binding("x", "stop", "Stop"),
        Binding("c", "save_now", "Save"),
        Binding("l", "set_lr", "Set LR"),
        Binding("t", "try_model", "Try"),
        Binding("o", "runs", "Runs"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit_console", "Quit"),
    ]

    def __init__(self, profile: Path | None = None, overrides: Sequence[str] = (),
                 attach: Path | None = None, remote: str | None = None,
                 ssh_command: str = "ssh", remote_redheart: str = "redheart",
                 samples: int | None = None, runs: RunsSource | None = None) -> None:
        super().__init__()
        self.runs_source = runs
        """The Runs screen's folder; given alone, the console opens on it."""
        self.notices: NoticeWatch | None = None
        self.samples = samples
        self.profile = profile
        self.overrides = tuple(overrides)
        self.attach = attach
        self.remote = remote
        self.ssh_command, self.remote_redheart = ssh_command, remote_redheart
        self.view = RunView()
        self.config: Config | None = None
        self.source: EventSource | None = None
        self.controller: Controller | None = None
        self.in_process = False
        self.training_done = threading.Event()
        self.training_done.set()
        self.exit_choice: str | None = None
        self.own_run: Path | None = None
        """The run this process trains (it goes on when another run is opened)."""
        self.outcome: Any = None
        """The own run's RunOutcome once it has ended (None: not yet, or it failed)."""
        self.ended_run: Path | None = None
        """The own run's directory as its end names it: left during the data read, the
        app had exited before the directory was named, and own_run is still None."""
        self.training_error: str | None = None
        """Why the own run failed, if it did."""
        self.total_steps: int | None = None
        """The own run's planned steps (for the outcome line printed after a headless run)."""
        self._start_lock = threading.Lock()
        self._started_dir: Path | None = None
        """The own run's directory once its engine reads its control channel."""
        self.start_cancelled = False
        """Stop was pressed during the data read: the training thread ends the start."""
        self._committed = False
        """The start is past its last cancel check (its folder is being made): a Stop now
        waits for the engine to read its control channel (`_stop_pending`)."""
        self._stop_pending = False
        self._charts_at = -CHARTS_S
        self._charts_stale = False
        self._messages_shown = 0

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        order = tab_order(self._has_run)
        yield Tabs(*(Tab(TITLES[name], id=f"tab-{name}") for name in order),
                   active=f"tab-{order[0]}", id="panel-tabs")
        with Container(id="panels"):       # the grid's order: see styles.tcss
            yield ModulesPanel(id="modules", classes="panel")
            yield LossPanel(lambda: self.view, id="loss", classes="panel")
            yield MemoryPanel(id="memory", classes="panel")
            yield ThroughputPanel(id="throughput", classes="panel")
            yield GradientsPanel(id="gradients", classes="panel")
            yield RunPanel(id="run", classes="panel")
        yield KeyFooter()

    @property
    def _has_run(self) -> bool:
        """A run to show: attached, remote, or started here (the tabs put it first)."""
        return self.source is not None or self.attach is not None or self.remote is not None

    def on_mount(self) -> None:
        self.set_interval(REFRESH_S, self.pump_events)
        self._layout(self.size.width, self.size.height)
        self._show_panel(tab_order(self._has_run)[0])
        if self.attach is not None:
            self.connect(FileEventSource(self.attach), LocalController(self.attach))
            config_file = self.attach / "config.toml"
            if config_file.is_file() and self.profile is None:
                self.profile = config_file
        elif self.remote is not None:
            self.probe_remote()         # a run directory (attach) or a folder of runs
        if self.profile is not None:
            self.config = load_profile(self.profile, self.overrides)
            if self.source is None:
                self.recompute_forecast()
        elif self.runs_source is not None and self.attach is None and self.remote is None:
            self.push_screen(RunsScreen(self.runs_source))

    def on_resize(self, event) -> None:
        self._layout(event.size.width, event.size.height)

    def _layout(self, width: int, height: int) -> None:
        wide = is_wide(width, height)
        self.query_one("#panels").set_class(wide, "wide").set_class(not wide, "tabbed")
        self.query_one("#panel-tabs").display = not wide
        self.call_after_refresh(self._draw_charts)     # panels now in view

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tabs.id == "panel-tabs" and event.tab.id:
            self._show_panel(event.tab.id.removeprefix("tab-"))

    def _show_panel(self, name: str) -> None:
        """The panel shown when tabbed (all are shown in the wide grid); its chart is
        drawn once it has its size."""
        for panel in self.query(".panel"):
            panel.set_class(panel.id == name, "active")
        self.call_after_refresh(self._draw_charts)

    def _tabs_for_run(self) -> None:
        """Re-order the tabs for a run (its loss first) and show its first one.

        The tabs are moved, not removed and added again: a Tabs emptied and refilled
        activates its first new tab once that is mounted, which could land after the
        console had moved on (another run connected, or the app closing) and name a
        tab that was gone. The first tab is activated once the moved tabs are laid
        out, so that the underline is drawn under it where it now stands."""
        tabs = self.query_one("#panel-tabs", Tabs)
        order = tab_order(True)
        if [tab.id for tab in tabs.query(Tab)] == [f"tab-{name}" for name in order]:
            return
        tab_list = tabs.query_one("#tabs-list")
        for name in reversed(order):
            tab_list.move_child(tabs.query_one(f"#tab-{name}", Tab), before=0)

        def show_first() -> None:
            if tabs.active == f"tab-{order[0]}":
                tabs.active = ""    # an unchanged value would leave the underline behind
            tabs.active = f"tab-{order[0]}"
            self._show_panel(order[0])

        self.call_after_refresh(show_first)

    def connect(self, source: EventSource, controller: Controller) -> None:
        if self.source is not None:
            self.source.close()
        self.source, self.controller = source, controller
        self.sub_title = source.label
        self._charts_at = -CHARTS_S              # its first batch is drawn at once
        self.watch_notices(source.label)
        self._tabs_for_run()

    def reset_panels(self) -> None:
        """Empty what the panels show of the previous run (another is about to be shown)."""
        self._messages_shown = 0
        self.query_one(RunPanel).reset()
        self.query_one(LossPanel).reset()
        self.query_one(MemoryPanel).reset()
        self.refresh_panels(charts=True)

    def set_status(self, text: str) -> None:
        """A passing status of this process's own run (its encoding) in the title, while
        that run is the one on screen (another opened meanwhile keeps its name there)."""
        if self._own_run_shown():
            self.sub_title = text

    def clear_status(self) -> None:
        """The title names the run on screen again."""
        if self._own_run_shown() and self.source is not None:
            self.sub_title = self.source.label

    def _own_run_shown(self) -> bool:
        return self.own_run is not None and getattr(self.source, "run_dir", None) == \
            self.own_run

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The run's controls belong to the console's screen: on the Runs and Compare
        screens they are off (and out of the footer), so `c` there is Compare, not Save."""
        if action in RUN_ACTIONS and isinstance(self.screen, (RunsScreen, CompareScreen)):
            return False
        return True

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for key, action, title in (("s", "start", "Start training"), ("p", "pause", "Pause"),
                                   ("r", "resume", "Resume"), ("x", "stop", "Stop"),
                                   ("c", "save_now", "Save a checkpoint now"),
                                   ("t", "try_model", "Try the model on a text"),
                                   ("o", "runs", "Runs: open, compare, start one"),
                                   ("question_mark", "help", "Key bindings")):
            yield SystemCommand(title, f"key {key}", lambda a=action: self.run_action(a))

    # --------------------------------------------------------------- forecast

    @work(thread=True, exclusive=True, group="forecast")
    def recompute_forecast(self) -> None:
        from redheart.memory.forecast import prefetch_toggles
        from redheart.memory.selector import plan_for

        config = self.config
        if config is None:
            return
        try:
            plan = plan_for(config)
        except RedHeartError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.post_message(ForecastReady(plan.as_json()))
        if self.training_done.is_set():          # no CPU taken from a live run
            prefetch_toggles(config, plan.device)   # the next toggle is then a cache hit

    def on_forecast_ready(self, message: ForecastReady) -> None:
        self.show_plan(message.plan)

    def show_plan(self, plan: dict[str, Any]) -> None:
        self.query_one(ModulesPanel).show(plan)
        self.query_one(MemoryPanel).show_plan(plan)

    def on_module_toggled(self, message: ModuleToggled) -> None:
        from redheart.errors import ConfigError
        from redheart.memory.forecast import toggle

        if self.config is None or self.view.state in LIVE:
            self.notify("modules are fixed while a run is live", severity="warning")
            return
        switching = "off" if message.name in self.config.model.modules else "on"
        try:
            changed = toggle(self.config, message.name)
        except ConfigError as exc:         # what depends on it, in the check's own words
            self.notify(f"{message.name} cannot be switched {switching}: {exc}",
                        severity="warning")
            return
        self.config = changed
        self.recompute_forecast()

    # ---------------------------------------------------------------- events

    def pump_events(self) -> None:
        if self.source is None:
            return
        if self.notices is not None and (stalled := self.notices.stalled()):
            self.ring(stalled)
        # The error is read first: it is set once the stream's last event is queued, so
        # this poll applies every event before the failure is shown.
        error = getattr(self.source, "error", None)
        if error:
            self.source.error = None  # type: ignore[attr-defined]
        events = self.source.poll()
        if events:
            self.view.apply(events)
            if self.notices is not None:
                for notice in self.notices.batch(events, self.view.state in LIVE):
                    self.ring(notice)
            plan = next((e for e in reversed(events) if e.get("type") == "plan"), None)
            if plan is not None:
                self.show_plan(plan)
            self.refresh_panels()
        elif self._charts_stale and time.monotonic() - self._charts_at >= CHARTS_S:
            self.refresh_charts()
        if error:
            self.show_source_failure(error)

    def show_source_failure(self, error: str) -> None:
        """The run's event stream failed (`ssh` exited: no redheart there, no such run, the
        connection lost): said where it stays, not only in a toast. A toast alone left the
        console at idle, step 0 and "loading the module table..." with nothing to say why."""
        if self.view.state in LIVE or self.view.state == "idle":
            self.view.state = "disconnected"   # nothing more arrives: not live as seen here
        run_panel = self.query_one(RunPanel)
        run_panel.show(self.view, self.source.label if self.source else None)
        run_panel.log("error", error)
        status = self.query_one("#modules-status", Static)
        if not self.view.events_seen:
            status.update("no module table: the run's events could not be read (see Run)")
        if self.source is not None:
            self.sub_title = f"{self.source.label}: not followed ({error})"
        self.notify(error, severity="error", timeout=10)

    def refresh_charts(self) -> None:
        """The paced redraw of the charts (at most every CHARTS_S)."""
        self._charts_at, self._charts_stale = time.monotonic(), False
        self._draw_charts()

    def _draw_charts(self) -> None:
        """Redraw the charts and the gradients table of the panels in view (with tabs, a
        hidden panel's chart costs nothing until its tab is picked)."""
        wide = self.query_one("#panels").has_class("wide")
        for panel in (self.query_one(LossPanel), self.query_one(ThroughputPanel),
                      self.query_one(GradientsPanel)):
            if wide or panel.has_class("active"):
                panel.refresh_chart(self.view)

    def ring(self, notice: Notice) -> None:
        """A notice for the run shown: the bell, a desktop notification (OSC 9) and a
        toast (the rule and the words are redheart/notify/rules.py's)."""
        self.terminal_write("\a" + osc9(f"{notice.title}: {notice.body}"))
        severity = {"failure": "error", "warning": "warning"}.get(notice.level, "information")
        self.notify(notice.body, title=notice.title, severity=severity, timeout=15)

    def terminal_write(self, data: str) -> None:
        """Raw bytes to the terminal, as App.bell writes its BEL (not in the test driver)."""
        if not self.is_headless and self._driver is not None:
            self._driver.write(data)

    def refresh_panels(self, charts: bool = False) -> None:
        """The figures now; the charts too once they are CHARTS_S old (or `charts`)."""
        self.query_one(LossPanel).show(self.view)
        self.query_one(ThroughputPanel).show(self.view)
        self.query_one(MemoryPanel).show_live(self.view)
        if charts or time.monotonic() - self._charts_at >= CHARTS_S:
            self.refresh_charts()
        else:
            self._charts_stale = True
        run_panel = self.query_one(RunPanel)
        run_panel.show(self.view, self.source.label if self.source else None)
        for level, text in self.view.messages[self._messages_shown:]:
            run_panel.log(level, text)
        self._messages_shown = len(self.view.messages)

    # --------------------------------------------------------------- control

    def action_start(self) -> None:
        if self.attach is not None or self.remote is not None:
            self.notify("attached to a run: start new runs with redheart-tui PROFILE",
                        severity="warning")
            return
        if self.config is None:
            self.notify("no profile: start redheart-tui PROFILE to train", severity="warning")
            return
        if self.view.state in LIVE or not self.training_done.is_set():
            self.notify("a run is already live", severity="warning")
            return
        self.training_done.clear()
        with self._start_lock:
            self._started_dir, self.start_cancelled = None, False
            self._committed = self._stop_pending = False
        self.own_run = None
        self.view = RunView(state="starting")
        self._messages_shown = 0
        self.query_one(RunPanel).show(self.view, None)
        self._train(self.config)

    def _train(self, config: Config) -> None:
        """Training on a thread of its own, not a Textual thread worker: those run in
        asyncio's default executor, which the app's exit waits for, so "leave it running
        headless" held a blank terminal until the run ended."""
        threading.Thread(target=self._training, args=(config,), name="redheart-training",
                         daemon=False).start()

    def from_training(self, callback: Any, *args: Any) -> None:
        """`callback(*args)` on the UI thread, from the training thread; nothing once the
        app has exited (a run left going headless goes on untold)."""
        try:
            self.call_from_thread(callback, *args)
        except RuntimeError:
            pass

    def _training(self, config: Config) -> None:
        from redheart.memory.selector import DoesNotFitError
        from redheart.train.run import run_training

        profile_dir = self.profile.resolve().parent if self.profile else Path.cwd()
        error = None
        try:
            run_training(config, profile_dir, SilentReporter(self), samples=self.samples,
                         on_run_dir=lambda run_dir: self.from_training(
                             self._started_in_process, run_dir.absolute()),
                         cancelled=self._commit_or_cancel)
        except DoesNotFitError as exc:     # refused before the data is read or a file written
            self.post_message(StartRefused(str(exc)))
            return
        except StartCancelled as exc:      # Stop during the data read: no folder, no run
            self.post_message(StartRefused(str(exc), cancelled=True))
            return
        except RedHeartError as exc:
            error = str(exc)
        except Exception:               # a bug: told in the panel, not lost on a thread
            error = ("a bug in Red Heart (please report this trace):\n"
                     + traceback.format_exc(limit=-4))
        finally:
            self.training_error = error
            self.training_done.set()
        self.post_message(TrainingEnded(error))

    def _started_in_process(self, run_dir: Path) -> None:
        """The engine's plan fits and it named the run directory: tail it from now on (it
        is created once the data is read). Its end is told by the training thread, so no
        lock watch: while the data is read nobody holds the lock, and a watch would call
        the run killed."""
        self.in_process = True
        self.own_run = run_dir
        self.connect(FileEventSource(run_dir, watch=False), LocalController(run_dir))

    def on_start_refused(self, message: StartRefused) -> None:
        self.view.state = "idle"
        self._forget_unmade_run()
        self.query_one(RunPanel).log("stopped" if message.cancelled else "refused",
                                     message.reason)
        self.query_one(RunPanel).show(self.view, None)
        if message.cancelled:
            self.notify(message.reason, title="start cancelled", timeout=10)
        else:
            self.notify(message.reason, title="start refused", severity="error", timeout=10)

    def _forget_unmade_run(self) -> None:
        """The own start ended before its directory was made: stop following the folder
        it was to be (the title named it; the Try screen and controls would use it)."""
        run = self.own_run
        if run is None or run.exists() or not self._own_run_shown():
            return
        if self.source is not None:
            self.source.close()
        self.source = self.controller = None
        self.own_run, self.in_process = None, False
        self.sub_title = ""

    def on_training_ended(self, message: TrainingEnded) -> None:
        self.pump_events()
        if message.error and self.view.state == "starting":   # refused before its folder
            self.view.state = "failed"
            self._forget_unmade_run()
            self.query_one(RunPanel).show(self.view, None)
        if message.error:
            self.query_one(RunPanel).log("error", message.error)
            self.notify(message.error, severity="error", timeout=10)

    def _send(self, cmd: str, lr: float | None = None) -> None:
        if self.controller is None or self.view.state not in LIVE:
            self.notify("no live run to control", severity="warning")
            return
        controller = self.controller

        def send() -> None:
            try:
                controller.send(cmd, lr)
            except (RedHeartError, RuntimeError, OSError) as exc:
                self.call_from_thread(self.notify, f"{cmd}: {exc}", severity="error")

        self.run_worker(send, thread=True, group="control")

    def action_pause(self) -> None:
        self._send("pause")

    def action_resume(self) -> None:
        self._send("resume")

    def action_stop(self) -> None:
        """Stop the run on screen; this process's own start, still reading its data,
        is cancelled instead (it has no run directory to send a stop to yet)."""
        starting = (not self.training_done.is_set() and self.view.state == "starting"
                    and (self.own_run is None or self._own_run_shown()))
        if starting:
            if self.cancel_start():
                text = "stop: cancelling the start (its data is still being read)"
            elif self._stop_pending:
                text = "stop: sent as training starts (a checkpoint first)"
            else:
                text = None
            if text is not None:
                self.query_one(RunPanel).log("stopping", text)
                self.notify(text)
                return
        self._send("stop")

    def _commit_or_cancel(self) -> bool:
        """`run_training`'s last cancel check (the training thread): True ends the start;
        False commits it, so a Stop from now on is sent once training starts, and nothing
        says "no run folder is made" of a start whose folder is being made."""
        with self._start_lock:
            self._committed = not self.start_cancelled
            return self.start_cancelled

    def cancel_start(self) -> bool:
        """Cancel this process's own start while it still reads its data (any thread: the
        quit path after the app has exited too). False once it is past that: a stop is
        then sent to the run, now or, while its folder is made, as training starts."""
        with self._start_lock:
            if not self._committed:
                self.start_cancelled = True
                return True
            if self._started_dir is None:
                self._stop_pending = True
        return False

    def mark_started(self, run_dir: Path) -> bool:
        """The own run's engine reads its control channel now (the training thread);
        True when Stop was pressed while its folder was made (the caller sends it)."""
        with self._start_lock:
            self._started_dir = run_dir
            return self._stop_pending

    def stop_own_run(self) -> bool:
        """Stop this process's own run, from any thread: a start still reading its data
        is cancelled (True), a running one is sent `stop` (a checkpoint first), and one
        that ended meanwhile (the quit dialog was open while its last steps ran) needs
        nothing: a stop sent there is refused as not live, which kept the console open."""
        if self.cancel_start():
            return True
        with self._start_lock:
            run_dir = self._started_dir
        if run_dir is not None and not self.training_done.is_set():
            LocalController(run_dir).send("stop")
        return False

    def action_save_now(self) -> None:
        self._send("save-now")

    def action_set_lr(self) -> None:
        text = self.query_one("#lr-input", Input).value.strip()
        try:
            lr = float(text)
        except ValueError:
            lr = 0.0
        if not lr > 0:
            self.notify(f"LR {text!r}: type a positive number such as 3e-4 in the LR box",
                        severity="warning")
            return
        self._send("set-lr", lr)

    def action_help(self) -> None:
        """The help of the screen shown: the Runs screen's `c` compares, not saves."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(getattr(self.screen, "HELP_MARKDOWN", HELP)))

    def action_try_model(self) -> None:
        if not isinstance(self.screen, TryScreen):
            self.push_screen(TryScreen(self.predict_target))

    def predict_target(self) -> PredictTarget | None:
        """The run whose checkpoints the Try screen uses, reached the way its events are
        (this machine, or the --remote host through the same ssh); None before a run."""
        if self.remote is not None:
            host, run_dir = parse_remote(self.remote)
            return PredictTarget(run_dir, host, tuple(shlex.split(self.ssh_command)),
                                 self.remote_redheart)
        if isinstance(self.source, FileEventSource):
            return PredictTarget(str(self.source.run_dir))
        return None

    def action_quit_console(self) -> None:
        if self.view.state not in LIVE and self.training_done.is_set():
            self.exit()
            return

        # the run this process trains, when it does (another may be on screen; it may be
        # still reading its data), else the live run on screen
        training = not self.training_done.is_set()
        controller = self.controller

        def chosen(choice: str | None) -> None:
            if choice == "stop" and (training or controller is not None):
                try:   # now, not in a worker: the app is about to exit
                    if training:
                        self.stop_own_run()
                    elif controller is not None:
                        controller.send("stop")
                except (RedHeartError, RuntimeError, OSError) as exc:
                    self.notify(f"stop: {exc}", severity="error")
                    return
            if choice in ("stop", "leave"):
                self.exit_choice = choice
                self.exit()

        self.push_screen(QuitScreen(self.in_process and training), chosen)

    def on_unmount(self) -> None:
        if self.source is not None:
            self.source.close()

