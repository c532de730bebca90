"""Pick the profile a new run starts from (the Runs screen's `n`).

The profiles next to the console (`profiles/*.toml`) are offered; any
other path can be typed. A profile that does not load is refused here, in
one line, before the console leaves the Runs screen.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static

from redheart.config_load import load_profile
from redheart.errors import RedHeartError

PROFILES = Path("profiles")


def known_profiles(folder: Path = PROFILES) -> list[Path]:
    return sorted(folder.glob("*.toml")) if folder.is_dir() else []


class NewRunScreen(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="new-run-box"):
            yield Label("Start a new run from a profile (its memory plan runs first)")
            yield OptionList(*(str(p) for p in known_profiles()), id="new-run-profiles")
            yield Input(placeholder="or type a profile path and press enter",
                        id="new-run-path")
            yield Static("", id="new-run-error")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(Path(str(event.option.prompt)))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self._choose(Path(event.value.strip()))

    def _choose(self, profile: Path) -> None:
        try:
            load_profile(profile)
        except RedHeartError as exc:
            self.query_one("#new-run-error", Static).update(f"error: {exc}")
            return
        self.dismiss(profile)
