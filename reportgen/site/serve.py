"""``reportgen serve``: preview a built site over HTTP the way a static host serves it.

The standard library's file handler answers every request with the whole file. A
browser asks for a video with ``Range: bytes=0-`` and, given a plain 200, will not
let the viewer seek in it (Chromium), so the handler here answers one byte range
with ``206 Partial Content``, as GitHub Pages and every web server do.
"""

from __future__ import annotations

import email.utils
import http.server
import os
import re
from http import HTTPStatus
from typing import BinaryIO

#: One range of bytes: "bytes=FIRST-", "bytes=FIRST-LAST" or "bytes=-SUFFIX". Anything else (several
#: ranges, another unit) is answered with the whole file, which HTTP allows.
RANGE = re.compile(r"bytes=(?:(\d{1,18})-(\d{0,18})|-(\d{1,18}))")  # 18 digits: past any file's size


def single_range(header: str | None) -> bool:
    """True for a header asking one valid byte range; one whose last byte comes before its first is ignored,
    as RFC 9110 says (the answer is the whole file, not 416)."""
    match = RANGE.fullmatch(header.strip()) if header is not None else None
    return match is not None and not (match.group(2) and int(match.group(2)) < int(match.group(1)))


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """Return the first and last byte that a ``Range`` header matching :data:`RANGE` asks of a ``size``-byte file.

    ``None``: no byte of the file is in the range (the answer is 416).
    """
    match = RANGE.fullmatch(header.strip())
    if match is None:
        raise ValueError(f"not a single byte range: {header!r}")
    first, last, suffix = match.groups()
    if suffix is not None:  # the last N bytes
        return (max(size - int(suffix), 0), size - 1) if int(suffix) > 0 and size > 0 else None
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    return (start, end) if start < size and start <= end else None


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serve a folder's files; a request for one byte range gets just those bytes (206)."""

    _left: int | None = None

    def send_head(self) -> BinaryIO | None:
        self._left = None
        header = self.headers.get("Range")
        if "\x00" in self.path or "%00" in self.path.lower():
            self.send_error(HTTPStatus.BAD_REQUEST, "a path with a NUL byte")
            return None
        path = self.translate_path(self.path)
        if not single_range(header) or not os.path.isfile(path):
            return super().send_head()
        try:
            source = open(path, "rb")
        except OSError:
            return super().send_head()  # it answers 404
        stat = os.fstat(source.fileno())
        size = stat.st_size
        wanted = byte_range(header, size)
        if wanted is None:
            source.close()
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        first, last = wanted
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
        self.end_headers()
        source.seek(first)
        self._left = last - first + 1
        return source

    def list_directory(self, path):  # noqa: ANN001 - the standard handler's signature
        """Serve files only: a folder without an index.html is not listed."""
        self.send_error(HTTPStatus.NOT_FOUND, "no index.html in this folder")
        return None

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def copyfile(self, source: BinaryIO, outputfile: BinaryIO) -> None:
        if self._left is None:
            super().copyfile(source, outputfile)
            return
        while self._left > 0:
            chunk = source.read(min(self._left, 64 * 1024))
            if not chunk:
                break
            outputfile.write(chunk)
            self._left -= len(chunk)
