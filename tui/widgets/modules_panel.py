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
    """Enter or a click on an optional module's row toggles it; essential rows are locked."""

    BORDER_TITLE = "Modules"

    def compose(self) -> ComposeResult:
        table = DataTable(id="modules-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("on", "module", "group", "params", "MiB", "note")
        yield table
        yield Static("loading the module table...", id="modules-status")

    def show(self, plan: dict[str, Any]) -> None:
        """Rows from a plan (`redheart plan --json` or the run's `plan` event)."""
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for row in plan["modules"]:
            name = row["name"]
            spec = MODULES_BY_NAME.get(name)
            if spec is None and not name.startswith("backbone."):
                continue     # forecast-only rows (the losses, a trained encoder): no toggle
            group = spec.group if spec else "backbone"
            if spec is None or spec.essential:
                note = "locked: " + (essential_reason(name) if spec else "always built")
            else:
                note = "needs " + ", ".join(spec.requires) if spec.requires else "optional"
            table.add_row("yes" if row["enabled"] else "off", name, group,
                          f"{row['params'] / 1e6:.1f}M" if row["enabled"] else "-",
                          f"{sum(row['forecast'].values()) / MIB:.0f}" if row["enabled"]
                          else "-", note, key=name)
        if 0 <= cursor < table.row_count:
            table.move_cursor(row=cursor)
        self.query_one("#modules-status", Static).update(
            f"{plan['total_params'] / 1e6:.1f}M params; enter or click toggles an optional "
            f"module")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        name = str(event.row_key.value)
        spec = MODULES_BY_NAME.get(name)
        if spec is None or spec.essential:
            reason = essential_reason(name) if spec else "the backbone is always built"
            self.app.notify(f"{name} is locked: {reason}", severity="warning")
            return
        self.post_message(ModuleToggled(name))
