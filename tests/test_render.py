"""Animations: the tiny project's media read back and checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import EPOCH, copy_project
from PIL import Image

from reportgen.build import BuildOptions, build, train_runs
from reportgen.config.grid import expand_grid
from reportgen.config.load import load_config
from reportgen.core.formatting import num
from reportgen.core.i18n import translations
from reportgen.infra.cache import Cache
from reportgen.infra.progress import Progress
from reportgen.media.layouts import PHONE_FRAME, WIDE_FRAME
from reportgen.media.plan import FINAL_HOLD, GIF_BUDGET, MIN_FPS


@pytest.fixture(scope="module")
def animated(tiny):
    """The tiny project's animated runs (results.json), by id."""
    return {run_id: run for run_id, run in tiny.runs.items() if run["frames"] is not None}


def test_every_iteration_is_a_frame_and_the_speed_follows_the_length(animated):
    assert len(animated) == 6  # the 2-D sweep has animate = "none"
    for run in animated.values():
        assert run["frames"] == run["iterations_run"], run["id"]  # frame_every = 1: nothing dropped
        assert MIN_FPS <= run["fps"] <= 60
        if run["iterations_run"] > 1:
            seconds = run["frames"] / run["fps"]
            assert seconds <= 20 and (seconds >= 3 or run["fps"] == MIN_FPS), run["id"]
    assert animated["thr__threshold-0.1"]["frames"] == 130  # the whole budget, 0..129
    assert animated["thr__threshold-1"]["fps"] == 10  # 79 frames play in about 8 s


def test_a_run_of_one_iteration_is_a_picture_not_a_video(tiny):
    run = tiny.runs["thr__threshold-10"]
    assert run["iterations_run"] == 1 and run["frames"] == 1
    assert run["media"]["mp4"] is None and run["media"]["gif"] is None
    assert (tiny.site / run["media"]["poster"]).is_file()
    assert f'<img class="frame" src="{run["media"]["poster"]}"' in tiny.html


def test_media_paths_are_relative_and_exist(tiny, animated):
    for run in tiny.runs.values():
        assert set(run["media"]) == {"gif", "mp4", "poster", "filmstrip", "phone"}
        if run["id"] not in animated:
            assert set(run["media"].values()) == {None}
            continue
        # A video has its phone drawing, an MP4 and a poster; a picture (one iteration) has none.
        media = dict(run["media"])
        phone = media.pop("phone")
        assert (phone is None) == (media["mp4"] is None), run["id"]
        for path in [*media.values(), *(phone or {}).values()]:
            if path is None:
                continue
            assert not Path(path).is_absolute() and path.startswith("media/")
            assert (tiny.site / path).stat().st_size > 0


def test_gif_is_a_light_looping_preview(tiny, animated):
    for run in animated.values():
        if run["media"]["gif"] is None:
            continue
        path = tiny.site / run["media"]["gif"]
        assert path.stat().st_size <= GIF_BUDGET
        with Image.open(path) as gif:
            assert gif.info.get("loop") == 0
            durations = []
            for i in range(gif.n_frames):
                gif.seek(i)
                durations.append(gif.info["duration"])
                last = np.asarray(gif.convert("RGB"))
            assert 2 <= gif.n_frames <= 30
            assert durations[-1] >= 1000  # the final state is held
        # Its last frame is the poster at half size: the same final state.
        poster = Image.open(tiny.site / run["media"]["poster"]).convert("RGB")
        half = np.asarray(poster.resize((poster.width // 2, poster.height // 2), Image.Resampling.BOX))
        assert half.shape == last.shape
        assert np.mean(np.abs(half.astype(int) - last.astype(int))) < 8, run["id"]  # palette rounding only


def test_an_oversized_gif_is_written_again_with_fewer_frames(tmp_path):
    from reportgen.media.encode import write_gif

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (60, 80, 3), dtype=np.uint8) for _ in range(24)]  # noise compresses badly
    size = write_gif(tmp_path / "a.gif", frames, seconds=4, hold=1, budget=60_000)
    assert size <= 60_000
    with Image.open(tmp_path / "a.gif") as gif:
        assert 2 <= gif.n_frames < 24
        gif.seek(gif.n_frames - 1)
        assert np.array_equal(np.asarray(gif.convert("RGB"))[:2, :2].shape, (2, 2, 3))


def ffprobe(path: Path, *entries: str) -> dict[str, str]:
    """Read a video stream's fields with ffprobe (Debian's ffmpeg; make test installs it)."""
    proc = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                           "stream=" + ",".join(entries), "-of", "default=noprint_wrappers=1", str(path)],
                          capture_output=True, text=True, check=True)
    return dict(line.split("=", 1) for line in proc.stdout.split())


def drawings(run: dict) -> list[tuple[str, str]]:
    """Return a video's (MP4, poster) of each drawing: the wide one, and the phone one when it has it."""
    media, phone = run["media"], run["media"]["phone"]
    return [(media["mp4"], media["poster"])] + ([(phone["mp4"], phone["poster"])] if phone else [])


def test_every_mp4_decodes_to_its_iterations_plus_the_hold(tiny, animated):
    checked = 0
    for run in animated.values():
        if run["media"]["mp4"] is None:
            continue
        for mp4, _ in drawings(run):  # the phone drawing shows the same frames at the same times
            info = ffprobe(tiny.site / mp4, "codec_name", "pix_fmt", "width", "height", "nb_read_frames",
                           "avg_frame_rate")
            assert (info["codec_name"], info["pix_fmt"]) == ("h264", "yuv420p")
            hold = round(run["fps"] * FINAL_HOLD)
            assert int(info["nb_read_frames"]) == run["frames"] + hold, mp4
            assert info["avg_frame_rate"] == f"{run['fps']}/1"
            checked += 1
    assert checked == 10


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


def test_mp4_is_even_sized_unscaled_and_faststart(tiny, animated):
    dpi = json.loads((tiny.site / "results.json").read_text())["config"]["render"]["dpi"]
    for run in animated.values():
        if run["media"]["mp4"] is None:
            continue
        for mp4, poster in drawings(run):
            path = tiny.site / mp4
            info = ffprobe(path, "width", "height")
            width, height = int(info["width"]), int(info["height"])
            assert width % 2 == 0 and height % 2 == 0
            assert (width, height) == Image.open(tiny.site / poster).size  # the frame size itself: nothing rescaled
            layout = PHONE_FRAME if mp4.endswith(".phone.mp4") else WIDE_FRAME
            assert (width, height) == layout.pixels(dpi)
            boxes = top_level_boxes(path)
            assert boxes.index("moov") < boxes.index("mdat"), boxes


@pytest.mark.parametrize("layout", [WIDE_FRAME, PHONE_FRAME], ids=lambda layout: layout.name)
def test_every_dpi_gives_even_frames_that_matplotlib_draws_at_that_size(layout):
    """H.264's 4:2:0 needs even sides: dpi 37 once gave the wide frame 251 rows, and its MP4 failed."""
    for dpi in range(30, 301):
        width, height = layout.pixels(dpi)
        assert width % 2 == 0 and height % 2 == 0, dpi
        assert tuple(int(inches * dpi) for inches in layout.inches(dpi)) == (width, height), dpi  # as Agg truncates


def test_a_phone_drawing_is_upright_and_its_text_is_as_large_as_its_layout_says(tiny):
    """The smallest text of every drawn frame (ticks, labels, notes and the stamped state lines), from meta.json."""
    dpi, seen = json.loads((tiny.site / "results.json").read_text())["config"]["render"]["dpi"], set()
    for meta_path in (tiny.cache / "media").glob("*/meta.json"):
        meta = json.loads(meta_path.read_text())
        layout = {WIDE_FRAME.name: WIDE_FRAME, PHONE_FRAME.name: PHONE_FRAME}[meta["layout"]]
        # (the stamped state lines' face comes in whole pixels: within half a pixel of the layout's size)
        assert meta["text_px"] >= layout.smallest_px(dpi) - 0.5, (meta["run_id"], meta["layout"])
        seen.add(meta["layout"])
        if layout is PHONE_FRAME:
            assert meta["height"] > 1.5 * meta["width"] and meta["text_px"] == pytest.approx(layout.smallest_px(dpi), abs=0.5)
            assert meta["filmstrip"] is None and set(meta["files"]) == {"animation.mp4", "poster.png"}
    assert seen == {"wide", "phone"}
    # Shown edge to edge on a 375 px phone, the phone frame's text is at least 10 CSS px; the wide one's would be 9.
    assert 375 / PHONE_FRAME.pixels(100)[0] * PHONE_FRAME.smallest_px(100) >= 10
    assert 375 / WIDE_FRAME.pixels(100)[0] * WIDE_FRAME.smallest_px(100) < 10


# --------------------------------------------------------------------------- what a frame shows


@pytest.fixture(scope="module", params=["en", "zh-CN"])
def drawn(request, tiny):
    """A renderer set up on a run of the built-in config, in each language, at the default 100 dpi."""
    from reportgen.media.frames import FrameRenderer
    from reportgen.media.render import make_task

    config = load_config().translated(translations(request.param).gettext)
    results = {r.id: r for r in train_runs(expand_grid(config), Cache(tiny.root / "frames-cache"),
                                           Progress(quiet=True))[0]}

    def renderer(run_id: str, layout=WIDE_FRAME) -> "FrameRenderer":
        task = make_task(config, results[run_id], ("mp4",), Cache(tiny.root / "unused"), request.param,
                         layout=layout.name)
        r = FrameRenderer(100, task.job.needs_cjk, layout)
        r.setup(task.job)
        return r

    return renderer


def red_rows(frame: np.ndarray, column: int) -> np.ndarray:
    """Return the rows of a pixel column drawn in the fit's red."""
    rgb = frame[:, column, :3].astype(int)
    return np.flatnonzero((rgb[:, 0] > 150) & (rgb[:, 1] < 90) & (rgb[:, 2] < 90))


@pytest.mark.parametrize("run_id, t", [("threshold__threshold-1", 0), ("threshold__threshold-1", 30),
                                       ("slope__slope-5", 59), ("learning-rate__lr-0.057", 7)])
def test_the_drawn_fit_is_y_equals_wx_plus_b(drawn, run_id, t):
    renderer = drawn(run_id)
    frame = renderer.draw(t)
    w, b = float(renderer.job.w[t]), float(renderer.job.b[t])
    ax, height = renderer.ax_fit, frame.shape[0]
    (x_lo, x_hi), (y_lo, y_hi) = ax.get_xlim(), ax.get_ylim()
    checked = 0
    for x in np.linspace(x_lo, x_hi, 9)[1:-1]:
        y = w * x + b
        if not y_lo < y < y_hi:
            continue  # outside the panel the line is cut off, not drawn
        px, py = ax.transData.transform((x, y))
        rows = red_rows(frame, int(round(px)))
        assert rows.size, f"no fit drawn at x = {x:.2f}"
        # The line is 3.5 pt thick: red pixels within 2.5 px of y = wx + b (the red key may share the column).
        assert np.abs(rows - (height - py)).min() <= 2.5, (x, y)
        band = rows[np.abs(rows - (height - py)) <= 6]
        assert band.size >= 3, f"the red at x = {x:.2f} is not a line through y = wx + b"
        checked += 1
    assert checked >= 3


def test_a_fit_outside_the_panel_is_named_not_clamped(drawn):
    renderer = drawn("learning-rate__lr-0.059")
    last = len(renderer.job.loss) - 1
    frame = renderer.draw(last)
    w, b = float(renderer.job.w[last]), float(renderer.job.b[last])
    assert w * renderer.ax_fit.get_xlim()[0] + b > renderer.ax_fit.get_ylim()[1]  # above the whole panel
    bbox = renderer.ax_fit.get_window_extent()
    top = frame.shape[0] - int(bbox.y1) + 3  # just inside the panel's top edge: no clamped red line there
    assert len(red_rows(frame[top : top + 1], int(bbox.x0) + 20)) == 0
    note = renderer.off_note.get_text()
    assert note.endswith(f"y = {num(w)}x + {num(b)}") and note.splitlines()[0] == renderer.job.labels.fit_above.splitlines()[0]


def test_the_contours_centre_on_the_least_squares_minimum(drawn):
    renderer = drawn("threshold__threshold-1")
    job, sx = renderer.job, renderer.ax_surface
    contours = next(a for a in renderer._per_run if hasattr(a, "levels") and len(a.levels) > 1)
    (ring,) = contours.get_paths()[0].to_polygons()  # the lowest level: the smallest ellipse around the minimum
    ring = ring[:-1] if np.allclose(ring[0], ring[-1]) else ring  # closed: the first point comes again
    assert len(ring) > 10
    centre = sx.transData.transform(ring).mean(axis=0)
    minimum = sx.transData.transform((job.w_star, job.b_star))
    assert np.hypot(*(centre - minimum)) <= 2.0


def test_the_path_zig_zags_across_the_valley_near_the_bound(drawn):
    """At lr 0.057 the fast error flips sign every step; at lr 0.05 it is gone within a few steps."""
    zigzag, crawl = drawn("learning-rate__lr-0.057").job, drawn("threshold__threshold-1").job
    (_, vf_w), (_, vf_b) = zigzag.eigenvectors

    def fast(job, t):
        return (job.w[t] - job.w_star) * vf_w + (job.b[t] - job.b_star) * vf_b

    signs = np.sign([fast(zigzag, t) for t in range(10, 30)])
    assert (signs[1:] != signs[:-1]).all()  # a zig-zag: every step crosses the valley
    assert abs(fast(crawl, 30)) < 1e-3 * abs(fast(crawl, 0))  # the crawl: only the slow error is left


def test_diverged_run_says_so_in_its_final_frame(drawn):
    renderer = drawn("learning-rate__lr-0.059")
    job = renderer.job
    renderer.draw(len(job.loss) - 2)
    assert renderer.end_note.get_text() == ""
    renderer.draw(len(job.loss) - 1)
    assert renderer.end_note.get_text() == job.labels.diverged % {"t": job.diverged_at}
    assert renderer.plan.left_view_at is not None and renderer.plan.left_view_at < 20
    assert renderer.left_note.get_text() == job.labels.left_view % {"t": renderer.plan.left_view_at}


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
    # The entry the site's GIF came from (the cache may hold the same run in Chinese too: tiny_both shares it).
    entry = next(p for p in cache_media.iterdir() if (p / "meta.json").exists() and (p / "animation.gif").exists()
                 and (p / "animation.gif").read_bytes() == good)
    (entry / "animation.gif").unlink()  # the site hard-links it: never edit in place
    (entry / "animation.gif").write_bytes(good[: len(good) // 2])
    report = build(options)
    assert report.rendered == 1 and not report.trained
    assert (root / "site" / runs["slope__slope-5"]["media"]["gif"]).read_bytes() == good
    with_no_cache = build(BuildOptions(config_path=options.config_path, out=options.out, jobs=1, use_cache=False))
    videos = sum(1 for run in runs.values() if run["media"]["mp4"])  # each also drawn for a phone
    assert with_no_cache.rendered == len(runs) + videos and with_no_cache.trained


def test_every_ending_and_every_axis_says_what_is_true(drawn):
    """Labels that once lied: no end label for a used-up budget, fractional iteration ticks, an unlabelled stop contour."""
    budget = drawn("threshold__threshold-0.1")
    job = budget.job
    budget.draw(len(job.loss) - 1)
    assert budget.end_note.get_text() == job.labels.budget % {"budget": len(job.loss)}
    # The threshold is below the floor: no contour can be drawn, and the surface says so.
    assert budget.ax_surface.get_title() == job.labels.no_stop_contour % {"threshold": "0.1", "floor": num(job.loss_floor)}
    # The floor's label sits inside the loss panel, clear of its iteration ticks (under its line, where no loss ever
    # goes, or above it at the left where the line runs along the panel's foot).
    budget.fig.canvas.draw()
    floor_box, panel = budget.floor_text.get_window_extent(), budget.ax_loss.bbox
    assert panel.y0 <= floor_box.y0 and floor_box.y1 <= panel.y1

    single = drawn("threshold__threshold-10")  # one iteration: its loss axis counts whole iterations only
    single.draw(0)
    single.fig.canvas.draw()
    ticks = [t for t in single.ax_loss.get_xticks() if single.ax_loss.get_xlim()[0] <= t <= single.ax_loss.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    # The stop contour is named in the view's title (a label inline on it was squeezed where the valley is narrow).
    assert single.ax_surface.get_title() == single.job.labels.stop_contour % {"threshold": "10"}
    stop = [a for a in single._per_run if hasattr(a, "levels") and list(a.levels) == [single.job.threshold]]
    assert stop and not stop[0].labelTexts


@pytest.mark.parametrize("run_id", ["threshold__threshold-0.1", "learning-rate__lr-0.059", "slope__slope-5"])
def test_the_end_note_and_the_surface_labels_stay_inside_their_views_in_both_drawings(drawn, run_id):
    """The phone's loss panel is narrower than "budget of 1000 iterations used up: no stop": the note takes two lines
    there; and the labels of the true point and the minimum never rise out of the surface view into its title."""
    for layout in (WIDE_FRAME, PHONE_FRAME):
        r = drawn(run_id, layout)
        for _ in r.frames((0, len(r.job.loss) - 1)):  # as a render draws them: the end note hidden until the last
            pass
        renderer = r.canvas.get_renderer()
        note = r.end_note.get_window_extent(renderer)
        assert r.end_note.get_text() and note.width > 10, layout.name
        assert r.ax_loss.bbox.x0 <= note.x0 and note.x1 <= r.ax_loss.bbox.x1, (layout.name, r.end_note.get_text())
        assert note.y1 <= r.ax_loss.bbox.y1, (layout.name, r.end_note.get_text())
        labels = [a for a in r._per_run if type(a).__name__ == "Annotation"]
        assert len(labels) == 2
        for label in labels:
            box = label.get_window_extent(renderer)
            assert box.y1 <= r.ax_surface.bbox.y1 and box.y0 >= r.ax_surface.bbox.y0, (layout.name, label.get_text())
        boxes = [label.get_window_extent(renderer) for label in labels]
        assert not boxes[0].overlaps(boxes[1]), layout.name
        # The eigen-directions' labels sit clear of the path, which runs along the slow one into the minimum.
        path = r.ax_surface.transData.transform(np.column_stack([r.job.w, r.job.b]))
        words = [a for a in r._per_run if type(a).__name__ == "Text" and a.get_text() in (r.job.labels.slow,
                                                                                           r.job.labels.fast)]
        for word in words:
            box = word.get_window_extent(renderer)
            inside = (box.x0 <= path[:, 0]) & (path[:, 0] <= box.x1) & (box.y0 <= path[:, 1]) & (path[:, 1] <= box.y1)
            assert not inside.any(), (layout.name, word.get_text())


def test_the_gif_link_counts_the_gifs_frames(tiny):
    import re

    found = re.findall(r'href="media/([^"]+)\.gif">[^<]*</a> · (\d+) frames?', tiny.html)
    assert found
    for run_id, count in found:
        with Image.open(tiny.site / "media" / f"{run_id}.gif") as gif:
            assert gif.n_frames == int(count), run_id


def test_no_more_workers_than_animations(tmp_path, caplog):
    import logging

    from conftest import build_project

    text = ("[defaults]\nmax_iters = 20\n[render]\nformats = [\"gif\"]\n"
            "[[sweep]]\nname = \"s\"\nvary = { slope = [1.0, 3.0] }\n")
    with caplog.at_level(logging.INFO, logger="reportgen"):
        build_project(tmp_path, text, jobs=8)
    assert any("rendering 2 animations (2 jobs" in r.getMessage() for r in caplog.records), \
        [r.getMessage() for r in caplog.records]
