"""Modules: every catalogue module with group, params and forecast; optional ones toggle."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from redheart.model.catalog import MODULES_BY_NAME, essential_reason
from redheart.units import MIB
from tui.messages import ModuleToggled


class ModulesPanel(Vertical):
    """Enter or a click on an optional module's row toggles it; essential rows are locked.

    The table keeps to what fits half a 120-column screen (on, module, params, MiB; a
    locked module's "on" reads "lock"): with its group and note as columns too, MiB and
    the note were off to the right there. The highlighted row's group and note (why it
    is locked, what it needs) are the line under the table."""

    BORDER_TITLE = "Modules"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.notes: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        table = DataTable(id="modules-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("on", "module", "params", "MiB")
        yield table
        yield Static("", id="modules-note")
        yield Static("loading the module table...", id="modules-status")

    def show(self, plan: dict[str, Any]) -> None:
        """Rows from a plan (`redheart plan --json` or the run's `plan` event)."""
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        self.notes = {}
        for row in plan["modules"]:
            name = row["name"]
            spec = MODULES_BY_NAME.get(name)
            if spec is None and not name.startswith("backbone."):
                continue     # forecast-only rows (the losses, a trained encoder): no toggle
            locked = spec is None or spec.essential
            self.notes[name] = module_note(name, bool(row["enabled"]))
            table.add_row("lock" if locked else "yes" if row["enabled"] else "off", name,
                          f"{row['params'] / 1e6:.1f}M" if row["enabled"] else "-",
                          f"{sum(row['forecast'].values()) / MIB:.0f}" if row["enabled"]
                          else "-", key=name)
        if 0 <= cursor < table.row_count:
            table.move_cursor(row=cursor)
        self.show_note()
        self.query_one("#modules-status", Static).update(
            f"{plan['total_params'] / 1e6:.1f}M params; enter or click toggles an optional "
            f"module")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.show_note()

    def show_note(self) -> None:
        """The highlighted module's group and note under the table."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        name = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        self.query_one("#modules-note", Static).update(self.notes.get(name, ""))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        name = str(event.row_key.value)
        spec = MODULES_BY_NAME.get(name)
        if spec is None or spec.essential:
            reason = essential_reason(name) if spec else "the backbone is always built"
            self.app.notify(f"{name} is locked: {reason}", severity="warning")
            return
        self.post_message(ModuleToggled(name))


def module_note(name: str, enabled: bool) -> str:
    """The module's group, then why it is locked, or what it needs and what enter does."""
    spec = MODULES_BY_NAME.get(name)
    if spec is None:
        return "backbone, locked: always built"
    if spec.essential:
        return f"{spec.group}, locked: {essential_reason(name)}"
    needs = f" (needs {', '.join(spec.requires)})" if spec.requires else ""
    return (f"{spec.group}, optional{needs}: enter or a click switches {name} "
            f"{'off' if enabled else 'on'}")
