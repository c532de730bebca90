"""The footer of every screen: its keys packed tighter on a narrow terminal."""

from __future__ import annotations

from textual import events
from textual.widgets import Footer

COMPACT_BELOW = 120
"""Below this width the keys go compact (one space between them, none around a key):
the console's ten keys in Textual's default spacing need 110 columns, so at 80 the last
ones, `? Help` and `q Quit`, were cut off."""
PALETTE_HINT_FROM = 100
"""From this width the footer also shows `^p palette` (12 columns more; ctrl+p works
at every width, and the help screen lists it)."""


class KeyFooter(Footer):
    """A Footer that fits its keys to its width: compact below COMPACT_BELOW columns,
    and without the command-palette hint below PALETTE_HINT_FROM."""

    def on_resize(self, event: events.Resize) -> None:
        self.fit(event.size.width)

    def fit(self, width: int) -> None:
        self.compact = width < COMPACT_BELOW
        palette = width >= PALETTE_HINT_FROM
        if palette != self.show_command_palette:
            self.show_command_palette = palette
            self.refresh(recompose=True)
