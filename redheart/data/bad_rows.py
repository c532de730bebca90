"""Bad data rows: a one-line error naming file:line and field, or a counted skip."""

from __future__ import annotations

from dataclasses import dataclass, field

from redheart.errors import RedHeartError


class DataError(RedHeartError):
    """A data file or row is malformed; the message names file:line and the field."""


@dataclass
class BadRows:
    """Policy for malformed rows: raise at the first (default) or skip and record.

    `--skip-bad-rows` exists for large scraped files where a few broken rows
    should not stop a run; the count and first reasons are always reported.
    """

    skip: bool = False
    reasons: list[str] = field(default_factory=list)

    def reject(self, where: str, problem: str) -> None:
        message = f"{where}: {problem}"
        if not self.skip:
            raise DataError(f"{message} (or skip such rows: [data] skip_bad_rows = true, "
                            f"or --set data.skip_bad_rows=true)")
        self.reasons.append(message)

    @property
    def count(self) -> int:
        return len(self.reasons)

    def summary(self, first: int = 3) -> str:
        shown = "; ".join(self.reasons[:first])
        more = f" (+{self.count - first} more)" if self.count > first else ""
        return f"skipped {self.count} bad rows: {shown}{more}"
