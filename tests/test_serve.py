"""reportgen serve: the site as a static host serves it, byte ranges included (browsers ask videos for them)."""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.site.serve import byte_range

DATA = bytes(range(256)) * 40  # 10,240 bytes, each position telling its offset mod 256


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real ``reportgen serve`` process on a free port, over a folder with a page and a 'video'."""
    site = tmp_path_factory.mktemp("served")
    (site / "index.html").write_text("<!doctype html><title>t</title>")
    (site / "media").mkdir()
    (site / "media" / "run.mp4").write_bytes(DATA)
    proc = subprocess.Popen([sys.executable, "-m", "reportgen", "serve", "--out", str(site), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    port = int(re.search(r"127\.0\.0\.1:(\d+)/", line).group(1))
    yield port
    proc.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop
    assert proc.wait(timeout=30) == 0


def fetch(port: int, headers: dict[str, str] | None = None, method: str = "GET", path: str = "/media/run.mp4"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def test_a_whole_file_says_ranges_are_accepted(server):
    response, body = fetch(server)
    assert response.status == 200 and body == DATA
    assert response.getheader("Accept-Ranges") == "bytes"
    assert fetch(server, path="/")[0].status == 200


@pytest.mark.parametrize("header, first, last", [
    ("bytes=0-", 0, len(DATA) - 1),  # what Chromium asks a video for first
    ("bytes=100-199", 100, 199),
    ("bytes=10000-99999", 10000, len(DATA) - 1),  # an end past the file is cut to it
    ("bytes=-240", len(DATA) - 240, len(DATA) - 1),  # the last 240 bytes
])
def test_one_range_is_answered_with_its_bytes(server, header, first, last):
    response, body = fetch(server, {"Range": header})
    assert response.status == 206 and body == DATA[first:last + 1]
    assert response.getheader("Content-Range") == f"bytes {first}-{last}/{len(DATA)}"
    assert response.getheader("Content-Type") == "video/mp4"
    head, nothing = fetch(server, {"Range": header}, method="HEAD")
    assert head.status == 206 and nothing == b"" and head.getheader("Content-Length") == str(last - first + 1)


def test_a_range_past_the_end_is_refused_and_others_get_the_whole_file(server):
    response, body = fetch(server, {"Range": f"bytes={len(DATA)}-"})
    assert response.status == 416 and response.getheader("Content-Range") == f"bytes */{len(DATA)}" and body == b""
    for header in ("bytes=0-9,20-29", "lines=1-2", "bytes=-"):  # several ranges, another unit, no numbers
        response, body = fetch(server, {"Range": header})
        assert response.status == 200 and body == DATA, header
    assert fetch(server, {"Range": "bytes=0-9"}, path="/media/missing.mp4")[0].status == 404


@settings(deadline=None)  # timed by the machine's load, not by the code
@given(size=st.integers(0, 5000), first=st.integers(0, 6000) | st.none(), last=st.integers(0, 6000) | st.none())
def test_byte_range_agrees_with_slicing(size, first, last):
    """The bytes a range names are Python's slice of them (RFC 9110, 14.1.2), or none at all: 416."""
    header = f"bytes={'' if first is None else first}-{'' if last is None else last}"
    if first is None and last is None:
        with pytest.raises(ValueError):  # "bytes=-" is no range: the handler sends the whole file
            byte_range(header, size)
        return
    got = byte_range(header, size)
    data = range(size)
    if first is None:  # a suffix: the last `last` bytes
        expected = data[-last:] if last and size else None
    else:
        expected = data[first:None if last is None else last + 1] or None
    assert (None if got is None else data[got[0]:got[1] + 1]) == expected


def test_odd_requests_get_plain_answers_and_the_server_stays_up(server):
    # RFC 9110: a range whose last byte comes before its first is ignored: the whole file, not 416.
    response, body = fetch(server, {"Range": "bytes=9-3"})
    assert response.status == 200 and body == DATA
    response, body = fetch(server, {"Range": "bytes=" + "9" * 60_000 + "-"})  # no int of 60,000 digits is parsed
    assert response.status == 200 and body == DATA
    assert fetch(server, path="/media%00/run.mp4")[0].status == 400  # a NUL in the path
    assert fetch(server, path="/media/")[0].status == 404  # files only: no folder listing
    assert fetch(server)[0].status == 200  # and the server still answers
