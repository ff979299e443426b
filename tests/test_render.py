"""Animations: a tiny real project built once, then its media read back and checked."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from reportgen.build import CACHE_DIR, BuildOptions, build
from reportgen.frames import frame_iterations

TINY = """
title = "Tiny animations"
[defaults]
max_iters = 130
[[sweep]]
name = "thr"
vary = { threshold = [10.0, 1.0, 0.1] }
[[sweep]]
name = "lr"
vary = { lr = [0.07] }
[[sweep]]
name = "slope"
vary = { slope = [5.0] }
[render]
frame_every = 20
fps = 10
dpi = 50
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("render")
    (root / "tiny.toml").write_text(TINY)
    options = BuildOptions(config_path=root / "tiny.toml", out=root / "site", jobs=2)
    report = build(options)
    doc = json.loads((root / "site" / "results.json").read_text())
    return root, options, report, {r["id"]: r for r in doc["runs"]}


def test_frame_iterations():
    assert frame_iterations(1, 20) == [0]
    assert frame_iterations(79, 20) == [0, 20, 40, 60, 78]
    assert frame_iterations(81, 20) == [0, 20, 40, 60, 80]
    assert frame_iterations(1000, 20)[-2:] == [980, 999]


def test_frame_counts_include_the_final_iteration(project):
    _, _, _, runs = project
    for run in runs.values():
        assert run["frames"] == len(frame_iterations(run["iterations_run"], 20)), run["id"]
    assert runs["thr__threshold-10"]["frames"] == 1
    assert runs["thr__threshold-0.1"]["frames"] == 8  # 0..120 and the budget's last, 129


def test_media_paths_are_relative_and_exist(project):
    root, _, _, runs = project
    for run in runs.values():
        assert set(run["media"]) == {"gif", "mp4", "poster"}
        for path in run["media"].values():
            assert not Path(path).is_absolute() and path.startswith("media/")
            assert (root / "site" / path).stat().st_size > 0


def test_gif_decodes_and_loops_forever(project):
    root, _, _, runs = project
    run = runs["thr__threshold-0.1"]
    with Image.open(root / "site" / run["media"]["gif"]) as gif:
        assert gif.info.get("loop") == 0
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
            frame = np.asarray(gif.convert("RGB"))
        assert 1 <= gif.n_frames <= run["frames"]
        # Every drawn frame shows for 1/fps; the last one is held about a second more.
        assert sum(durations) == pytest.approx(run["frames"] * 100 + 1000, abs=10 * run["frames"])
        assert durations[-1] >= 1000
    poster = np.asarray(Image.open(root / "site" / run["media"]["poster"]).convert("RGB"))
    assert poster.shape == frame.shape
    assert np.mean(np.abs(poster.astype(int) - frame.astype(int))) < 8  # palette rounding only


def probe(path: Path) -> str:
    proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return proc.stderr


def top_level_boxes(path: Path) -> list[str]:
    data = path.read_bytes()
    boxes, i = [], 0
    while i + 8 <= len(data):
        size = int.from_bytes(data[i : i + 4], "big")
        boxes.append(data[i + 4 : i + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[i + 8 : i + 16], "big")
        if size < 8:
            break
        i += size
    return boxes


def test_mp4_is_h264_yuv420p_even_and_faststart(project):
    root, _, _, runs = project
    for run in runs.values():
        path = root / "site" / run["media"]["mp4"]
        info = probe(path)
        stream = re.search(r"Video: (\w+).*?, (yuv\w+)[^,]*, (\d+)x(\d+)", info)
        assert stream, info
        codec, pix_fmt, width, height = stream.group(1), stream.group(2), int(stream.group(3)), int(stream.group(4))
        assert (codec, pix_fmt) == ("h264", "yuv420p")
        assert width % 2 == 0 and height % 2 == 0
        poster = Image.open(root / "site" / run["media"]["poster"])
        assert (width, height) == poster.size  # the frame size itself: nothing rescaled
        boxes = top_level_boxes(path)
        assert boxes.index("moov") < boxes.index("mdat"), boxes
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
        assert frames == run["frames"] + 10  # plus one second of the final frame at 10 fps


def test_diverged_run_is_labelled(project):
    _, _, report, runs = project
    run = runs["lr__lr-0.07"]
    assert run["status"] == "diverged" and run["media"]["gif"]
    assert run["final"]["loss"] is not None


def test_rebuild_trains_and_renders_nothing_and_needs_no_torch(project):
    root, options, _, _ = project
    code = (
        "import sys; from pathlib import Path; from reportgen.build import build, BuildOptions;"
        f"r = build(BuildOptions(config_path=Path({str(options.config_path)!r}), out=Path({str(options.out)!r})));"
        "print(r.trained, r.rendered, 'torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "0", "False"]


def test_interrupted_or_damaged_entries_are_never_reused(project):
    root, options, _, runs = project
    cache_media = root / CACHE_DIR / "media"
    # A half-written entry left by a killed render: a temporary folder with a truncated file.
    partial = cache_media / ".deadbeef.x.tmp"
    partial.mkdir()
    (partial / "animation.gif").write_bytes(b"GIF89a")
    # A committed entry whose GIF was truncated afterwards.
    site_gif = root / "site" / runs["slope__slope-5"]["media"]["gif"]
    good = site_gif.read_bytes()
    entry = next(p for p in cache_media.iterdir() if (p / "meta.json").exists() and "slope__slope-5" in (p / "meta.json").read_text())
    (entry / "animation.gif").unlink()  # the site hard-links it: never edit in place
    (entry / "animation.gif").write_bytes(good[: len(good) // 2])
    report = build(options)
    assert report.rendered == 1 and not report.trained
    assert (root / "site" / runs["slope__slope-5"]["media"]["gif"]).read_bytes() == good
    with_no_cache = build(BuildOptions(config_path=options.config_path, out=options.out, jobs=1, use_cache=False))
    assert with_no_cache.rendered == len(runs) and with_no_cache.trained
