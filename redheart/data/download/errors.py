"""The one error type of the download."""

from __future__ import annotations

from redheart.errors import RedHeartError


class DownloadError(RedHeartError):
    """The data could not be fetched or did not match its pin; nothing was kept.

    Exit 1, not the usual 2: the command line was right, the network or the
    publisher's file was not, so a script can tell "retry later" from "fix
    the call".
    """

    exit_code = 1
