"""The output under stress: unwritable folders, a full disk, two builds at once, a build killed by SIGKILL."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import start_build, wait_for

from reportgen.cli import main
from reportgen.infra.options import CACHE_DIR

OK = """
title = "{title}"
[defaults]
max_iters = {iterations}
[[sweep]]
name = "s"
vary = {{ threshold = [1.0, 0.1] }}
[render]
dpi = 40
formats = ["gif"]
"""
#: Long enough that rendering is under way when a test steps in: 4 runs of 300 frames, GIF and MP4.
LONG = """
title = "long"
[defaults]
max_iters = 900
threshold = 0.0
[[sweep]]
name = "long"
vary = { slope = [1.0, 2.0, 3.0, 4.0] }
[render]
frame_every = 3
dpi = 40
phone = false
"""


def snapshot(folder: Path) -> dict[Path, bytes]:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def leftovers(root: Path) -> list[Path]:
    """Return what a failed build must not leave: staging folders, temporary files, uncommitted cache entries."""
    found = [p for p in root.rglob(".*") if p.name.startswith((".site.building", ".site.old")) or p.suffix == ".tmp"]
    media = root / CACHE_DIR / "media"
    found += [p for p in media.iterdir() if not (p / "meta.json").exists()] if media.is_dir() else []
    return found


@pytest.fixture(scope="module")
def built_once(tmp_path_factory) -> Path:
    """A folder holding a site built from a first config, its cache, and a second config that trains and renders anew.

    The first run's data is the same in both, so the graph evidence comes from the cache.
    """
    folder = tmp_path_factory.mktemp("built")
    (folder / "first.toml").write_text(OK.format(title="first", iterations=60))
    (folder / "second.toml").write_text(OK.format(title="second", iterations=70))
    assert main(["build", "--config", str(folder / "first.toml"), "--out", str(folder / "site"), "-q",
                 "--jobs", "1"]) == 0
    return folder


@pytest.fixture
def built(built_once, tmp_path) -> Path:
    """A copy of :func:`built_once` for one test to damage (the site, its cache and both configs)."""
    shutil.copytree(built_once, tmp_path, symlinks=True, dirs_exist_ok=True)
    return tmp_path


def build_second(folder: Path, *extra: str) -> int:
    return main(["build", "--config", str(folder / "second.toml"), "--out", str(folder / "site"), "--jobs", "1",
                 *extra])


# --------------------------------------------------------------------------- unwritable folders


@contextmanager
def read_only(folder: Path):
    """Make ``folder`` unwritable, even for root (chattr +i), and writable again afterwards."""
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(mode)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("running as root without chattr +i: no way to make a folder read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.mark.parametrize("where", ["site folder", "new folder under it", "cache", "cache media"])
def test_an_unwritable_output_is_refused_before_training_in_one_line(built, capsys, where):
    before = snapshot(built / "site")
    capsys.readouterr()
    locked = {"site folder": built, "new folder under it": built, "cache": built / CACHE_DIR,
              "cache media": built / CACHE_DIR / "media"}[where]
    out = built / "new" / "site" if where == "new folder under it" else built / "site"
    with read_only(locked):
        code = main(["build", "--config", str(built / "second.toml"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.splitlines()) == 1, err  # no training, no traceback: the check comes first
    assert err.startswith("reportgen: error: ") and f"cannot write in {locked}: " in err
    assert snapshot(built / "site") == before and leftovers(built) == []


# --------------------------------------------------------------------------- a full disk


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as a failed write() raises it: no file name


@pytest.mark.parametrize("stage", ["training", "rendering", "writing pages"])
def test_a_full_disk_stops_the_build_in_one_line_and_keeps_the_old_site(built, capsys, monkeypatch, stage):
    from reportgen.media import encode
    from reportgen.site import writer
    from reportgen.train import store as runstore

    if stage == "training":
        def half_written(path, arrays):
            path.write_bytes(b"PK\x03\x04 the disk filled up here")
            no_space()
        monkeypatch.setattr(runstore, "write_npz", half_written)
        where = built / CACHE_DIR / "train"
    elif stage == "rendering":
        monkeypatch.setattr(encode, "write_poster", no_space)
        where = built / CACHE_DIR / "media"
    else:
        monkeypatch.setattr(writer, "write_json", no_space)
        where = built / "site"
    before = snapshot(built / "site")
    capsys.readouterr()
    assert build_second(built, "-q") == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"reportgen: error: {where}") and err.rstrip().endswith(": No space left on device")
    assert snapshot(built / "site") == before
    assert leftovers(built) == [] and not list((built / CACHE_DIR).rglob("runs.npz.tmp"))
    assert all((entry / "meta.json").exists() for entry in (built / CACHE_DIR / "train").iterdir())


def test_verbose_shows_the_traceback_of_a_failed_write(built, capsys, monkeypatch):
    from reportgen.site import writer

    monkeypatch.setattr(writer, "write_json", no_space)
    assert build_second(built, "-v") == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "no_space" in err
    assert err.splitlines()[-1].endswith(": No space left on device")


FULL_FFMPEG = """#!/bin/sh
# An encoder on a full disk: ffmpeg's own lines, then its reason, then a failure.
cat > /dev/null
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do echo "[mp4 @ 0x5581] frame $i: write error" >&2; done
echo "[out#0/mp4 @ 0x5581] Error writing trailer: No space left on device" >&2
exit 228
"""


def test_a_full_disk_under_the_encoder_prints_its_one_line_and_none_of_ffmpegs(built, capfd, monkeypatch):
    import imageio_ffmpeg

    fake = built / "ffmpeg"
    fake.write_text(FULL_FFMPEG)
    fake.chmod(0o755)
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: str(fake))
    (built / "second.toml").write_text(OK.format(title="second", iterations=70).replace('["gif"]', '["mp4"]'))
    before = snapshot(built / "site")
    capfd.readouterr()
    assert build_second(built, "-q") == 1
    err = capfd.readouterr().err  # at the file descriptor: what ffmpeg itself would print shows here too
    assert err.splitlines() == [f"reportgen: error: {built / CACHE_DIR / 'media'}" + err.split("media", 1)[1].rstrip()]
    assert err.rstrip().endswith(": No space left on device") and "ffmpeg" not in err and "0x5581" not in err
    assert snapshot(built / "site") == before and leftovers(built) == []


def test_a_failed_encoder_gives_its_own_reason(tmp_path, capfd):
    import numpy as np

    from reportgen.media.encode import Mp4Stream

    stream = Mp4Stream(tmp_path / "missing" / "a.mp4", (64, 48), 10, 2)
    with pytest.raises(OSError, match=r"^\[Errno 5\] the video encoder failed: .*No such file or directory"):
        for _ in range(50):
            stream.add(np.zeros((48, 64, 4), np.uint8))
        stream.close()
    assert capfd.readouterr().err == "" and stream.process.returncode is not None


def test_sigterm_while_encoding_prints_exactly_one_line(tmp_path):
    (tmp_path / "long.toml").write_text(LONG)
    proc = start_build(tmp_path / "long.toml", tmp_path / "site", "-q")
    try:
        wait_for(lambda: proc.poll() is not None or any(
            "rawvideo" in command(p) and str(tmp_path) in command(p) for p in process_table()))
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.3)  # frames are flowing into ffmpeg
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.splitlines() == ["reportgen: interrupted by SIGTERM; the previous site is untouched"], err
    # (a stopped worker's unfinished cache entry stays until a later build sees its pid is gone: Cache.remove_stale)
    assert not (tmp_path / "site").exists() and not list(tmp_path.glob(".site.*"))


# --------------------------------------------------------------------------- processes


def test_a_second_build_on_the_same_out_waits_then_finishes_a_whole_site(built):
    (built / "long.toml").write_text(LONG)
    lock = built / ".reportgen.lock"
    first = start_build(built / "long.toml", built / "site")
    second = None
    try:
        # Freeze the first build while it holds the lock, so that the second one surely meets it. (Its check
        # of the build stamp holds the lock for a moment first: training is the sure sign of the build's own hold.)
        line = first.stderr.readline()
        assert line.startswith("reportgen: training"), line + first.stderr.read()
        assert first.poll() is None and lock.read_text().strip() == str(first.pid), first.communicate()
        os.kill(first.pid, signal.SIGSTOP)
        second = start_build(built / "second.toml", built / "site")
        line = second.stderr.readline()
        assert "waiting for another build" in line and f"(pid {first.pid})" in line, line
        os.kill(first.pid, signal.SIGCONT)
        assert first.wait(timeout=300) == 0, first.stderr.read()
        assert second.wait(timeout=300) == 0, second.stderr.read()
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    # The site is the second build's, whole: its runs, its media, nothing of the first.
    document = json.loads((built / "site" / "results.json").read_text())
    assert document["config"]["title"] == "second"
    media = {p.name for p in (built / "site" / "media").iterdir()}
    # (an animated run has a filmstrip for print besides its GIF)
    assert media == {f"{run['id']}.{ext}" for run in document["runs"] for ext in ("gif", "poster.png", "filmstrip.png")
                     if run["media"]["gif"] or ext == "poster.png"}
    assert leftovers(built) == []


def process_table() -> dict[int, tuple[int, str]]:
    """Return pid -> (parent pid, state) of every process."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        state, ppid = text[text.rindex(")") + 2:].split()[:2]
        table[int(stat.parent.name)] = (int(ppid), state)
    return table


def descendants(pid: int) -> set[int]:
    table = process_table()
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        children = {p for p, (ppid, _) in table.items() if ppid == parent}
        todo += children - found
        found |= children
    return found


def alive(pid: int) -> bool:
    state = process_table().get(pid)
    return state is not None and state[1] not in "ZX"  # a zombie is dead, waiting for init to reap it


def command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_render_workers_and_their_ffmpeg_die_with_a_killed_build(tmp_path):
    (tmp_path / "long.toml").write_text(LONG)
    proc = start_build(tmp_path / "long.toml", tmp_path / "site")
    family: dict[int, str] = {}  # pid -> command line, taken while the build runs
    parents: dict[int, int] = {}  # pid -> parent pid, at the same time
    try:
        def encoding() -> bool:
            family.clear()
            family.update({p: command(p) for p in descendants(proc.pid)})
            parents.clear()
            parents.update({p: ppid for p, (ppid, _) in process_table().items() if p in family})
            encoders = [c for c in family.values() if "ffmpeg" in c and "rawvideo" in c]  # not `ffmpeg -version`
            return proc.poll() is not None or bool(encoders)
        wait_for(encoding)
        os.kill(proc.pid, signal.SIGKILL)  # as the OOM killer does: only the build process, nothing can clean up
        assert proc.wait() == -signal.SIGKILL, proc.communicate()  # it was still running
        # A worker's child between fork and exec (its ffmpeg, starting) still shows the worker's command line.
        workers = [p for p, c in family.items() if "spawn_main" in c and parents.get(p) == proc.pid]
        assert len(workers) == 2 and any("rawvideo" in c for c in family.values()), family
        deadline = time.monotonic() + 5
        while any(alive(p) for p in family) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [family[p] for p in family if alive(p)] == []
        # Nor an encoder started after the snapshot: every ffmpeg writes into this test's folder.
        assert [p for p in process_table() if alive(p) and str(tmp_path) in command(p)] == []
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the session: never leak a process
        except ProcessLookupError:
            pass


def test_a_signal_whose_exception_was_lost_still_keeps_the_old_site(tmp_path):
    """Python drops an exception raised in a finaliser; a SIGTERM landing there must not let the build finish."""
    from reportgen.infra.errors import BuildInterrupted, stop_on_signals
    from reportgen.infra.output import staged_output

    out, handler = tmp_path / "site", signal.getsignal(signal.SIGTERM)
    with staged_output(out) as stage:
        (stage / "index.html").write_text("old")
    with stop_on_signals(), pytest.raises(BuildInterrupted):
        with staged_output(out) as stage:
            (stage / "index.html").write_text("new")
            try:
                os.kill(os.getpid(), signal.SIGTERM)
            except BuildInterrupted:
                pass  # as a finaliser would: the exception is gone, the signal is remembered
    assert (out / "index.html").read_text() == "old"
    assert not list(tmp_path.glob(".site.building-*"))
    assert signal.getsignal(signal.SIGTERM) == handler  # the caller's handler is back


def test_a_mount_point_as_out_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    """A Docker volume as --out built for 14 s, then failed to rename it: now refused at once (mocked: no mount here)."""
    import os

    from reportgen.cli import main

    volume = tmp_path / "volume"
    volume.mkdir()
    real = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: os.fspath(p) == os.fspath(volume) or real(p))
    assert main(["build", "--out", str(volume), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"reportgen: error: --out {volume}: is a mount point, which cannot be replaced by renaming; "
                   f"give a folder inside it, e.g. --out {volume / 'site'}"]
    assert list(volume.iterdir()) == []
