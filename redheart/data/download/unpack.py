"""Archive members, each written to `<final>.part` for the caller to rename.

Members are copied by name into paths the pin table chose, never
extracted by the archive's own paths, so an absolute path, a `..`, a link
or a device node in an archive cannot write outside the data folder.
"""

from __future__ import annotations

import shutil
import tarfile
from collections.abc import Sequence
from pathlib import Path

from redheart.data.download.errors import DownloadError
from redheart.data.download.pins import Target, part_of
from redheart.units import MIB

CHUNK = MIB


def unpack(archive: Path, url: str, root: Path, targets: Sequence[Target]) -> None:
    """Write every target member of `archive` to its `.part` in one pass over the stream.

    A missing or non-file member removes what was written and is refused:
    the caller renames only when every member is there.
    """
    wanted = {t.member: root / t.rel for t in targets}
    written: list[Path] = []
    try:
        try:
            _copy_members(archive, url, wanted, written)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DownloadError(f"{url}: cannot unpack the archive ({exc})") from None
        if wanted:
            raise DownloadError(f"{url}: the archive has no {', '.join(sorted(wanted))}; "
                                f"the publisher's layout changed, see README \"Data\"")
    except BaseException:
        for part in written:
            part.unlink(missing_ok=True)
        raise


def _copy_members(archive: Path, url: str, wanted: dict[str | None, Path],
                  written: list[Path]) -> None:
    """Copy the wanted members, popping each from `wanted` and listing its part in `written`."""
    with tarfile.open(archive, "r:*") as tar:
        for info in tar:
            dest = wanted.pop(info.name.removeprefix("./"), None)
            if dest is None:
                continue
            if not info.isfile():
                raise DownloadError(f"{url}: member {info.name} is not a regular file")
            dest.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(info)
            assert source is not None       # isfile() members always have data
            written.append(part_of(dest))
            with source, part_of(dest).open("wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
