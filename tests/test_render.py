"""Animations: the tiny project's media read back and checked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from conftest import EPOCH, copy_project
from reportgen.animation import frame_iterations
from reportgen.build import BuildOptions, build


@pytest.fixture(scope="module")
def animated(tiny):
    """The tiny project's animated runs (results.json), by id."""
    return {run_id: run for run_id, run in tiny.runs.items() if run["frames"] is not None}


def test_frame_iterations():
    assert frame_iterations(1, 20) == [0]
    assert frame_iterations(79, 20) == [0, 20, 40, 60, 78]
    assert frame_iterations(81, 20) == [0, 20, 40, 60, 80]
    assert frame_iterations(1000, 20)[-2:] == [980, 999]


def test_frame_counts_include_the_final_iteration(animated):
    runs = animated
    assert len(runs) == 6  # the 2-D sweep has animate = "none"
    for run in runs.values():
        assert run["frames"] == len(frame_iterations(run["iterations_run"], 20)), run["id"]
    assert runs["thr__threshold-10"]["frames"] == 1
    assert runs["thr__threshold-0.1"]["frames"] == 8  # 0..120 and the budget's last, 129


def test_media_paths_are_relative_and_exist(tiny, animated):
    for run in tiny.runs.values():
        assert set(run["media"]) == {"gif", "mp4", "poster"}
        if run["id"] not in animated:
            assert set(run["media"].values()) == {None}
            continue
        for path in run["media"].values():
            assert not Path(path).is_absolute() and path.startswith("media/")
            assert (tiny.site / path).stat().st_size > 0


def test_gif_decodes_and_loops_forever(tiny):
    run = tiny.runs["thr__threshold-0.1"]
    with Image.open(tiny.site / run["media"]["gif"]) as gif:
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
    poster = np.asarray(Image.open(tiny.site / run["media"]["poster"]).convert("RGB"))
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


def test_mp4_is_h264_yuv420p_even_and_faststart(tiny, animated):
    for run in animated.values():
        path = tiny.site / run["media"]["mp4"]
        info = probe(path)
        stream = re.search(r"Video: (\w+).*?, (yuv\w+)[^,]*, (\d+)x(\d+)", info)
        assert stream, info
        codec, pix_fmt, width, height = stream.group(1), stream.group(2), int(stream.group(3)), int(stream.group(4))
        assert (codec, pix_fmt) == ("h264", "yuv420p")
        assert width % 2 == 0 and height % 2 == 0
        poster = Image.open(tiny.site / run["media"]["poster"])
        assert (width, height) == poster.size  # the frame size itself: nothing rescaled
        boxes = top_level_boxes(path)
        assert boxes.index("moov") < boxes.index("mdat"), boxes
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
        assert frames == run["frames"] + 10  # plus one second of the final frame at 10 fps


def test_diverged_run_says_so_in_its_final_frame(tiny):
    from reportgen.animation import FrameJob, FrameLabels
    from reportgen.frames import FrameRenderer

    run = tiny.runs["lr__lr-0.07"]
    assert run["status"] == "diverged" and run["media"]["gif"] and run["final"]["loss"] is not None
    loss = np.array(run["loss_history"], dtype=np.float64)
    x = np.linspace(0.5, 9.5, 12)
    job = FrameJob(run_id=run["id"], title="t", x=x, y=2 * x + 5, slope=2.0, intercept=5.0, threshold=1.0,
                   loss_floor=0.4, status="diverged", diverged_at=run["diverged_at"], loss=loss,
                   w=np.linspace(0, 2, len(loss)), b=np.zeros(len(loss)), frame_every=20, labels=FrameLabels())
    renderer = FrameRenderer(dpi=40)
    renderer.setup(job)
    renderer.draw(len(loss) - 2)
    assert renderer.note.get_text() == ""
    renderer.draw(len(loss) - 1)
    assert renderer.note.get_text() == f"diverged at iteration {run['diverged_at']}"


def test_rebuild_trains_and_renders_nothing_and_imports_neither_torch_nor_matplotlib(tiny):
    code = (
        "import sys; from pathlib import Path; from reportgen.build import build, BuildOptions;"
        f"r = build(BuildOptions(config_path=Path({str(tiny.config)!r}), out=Path({str(tiny.site)!r})));"
        "print(r.trained, r.rendered, 'torch' in sys.modules, 'matplotlib' in sys.modules)"
    )
    before = tiny.html
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "0", "False", "False"]
    assert tiny.html == before  # the same page, from cached figures


def test_interrupted_or_damaged_entries_are_never_reused(tiny, tmp_path):
    project = copy_project(tiny, tmp_path / "copy")
    root, options, runs = project.root, project.options(), {k: v for k, v in project.runs.items() if v["frames"]}
    cache_media = project.cache / "media"
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
