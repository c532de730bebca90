"""A loopback HTTP server for the download tests: files made in the test, Range, cuts.

It answers like the publishers' hosts do (200, 206 with Content-Range,
404, 416) and can drop a connection partway through a body, so the tests
exercise the real urllib code path without touching the network.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_RANGE = re.compile(r"bytes=(\d+)-$")


@dataclass
class Served:
    files: dict[str, bytes] = field(default_factory=dict)
    """URL path (no leading slash) -> body."""
    cuts: dict[str, int] = field(default_factory=dict)
    """Path -> bytes after which its next response is cut (once)."""
    ranges: bool = True
    """False: ignore Range headers and always answer 200 with the whole file."""
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    """(path, Range header) of every request, in order."""


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.lstrip("/")
            header = self.headers.get("Range")
            served.requests.append((path, header))
            body = served.files.get(path)
            if body is None:
                self.send_error(404)
                return
            start = 0
            match = _RANGE.match(header or "") if served.ranges else None
            if match:
                start = int(match.group(1))
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            cut = served.cuts.pop(path, None)
            self.wfile.write(body[start:] if cut is None else body[start:start + cut])
            self.close_connection = True

        def log_message(self, *_args: object) -> None:     # keep test output clean
            pass

    return Handler


class DataServer:
    """`with DataServer(served) as server:` serves on 127.0.0.1 at a free port."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
        # shutdown() waits for the serving loop's next poll: every 50 ms, not the default
        # 0.5 s that each of the download tests paid on its way out.
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{path}"

    def __enter__(self) -> DataServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
