"""Rendering an animation: reportgen against the usual pyplot + FuncAnimation loop, the default build, and memory.

(a) Side by side, at the same frames (every iteration of the built-in config's
    1,000-iteration run, threshold 0.1), into an MP4 of the same three views:
      the usual way: a pyplot figure and a FuncAnimation whose update clears the
      three axes and draws everything again (points, lines, contours, path, curve),
      saved with FFMpegWriter;
      reportgen: render_task, jobs 1 (MP4, GIF preview and poster).
(b) Cold builds of the built-in config, every iteration of every animated run
    rendered: `python -m reportgen build` into an empty folder, no cache; with the
    wide drawings only ([render] phone = false) and with the phone drawings too,
    alternating, twice.
(c) Peak RSS of render_task on a 100- and a 1,000-iteration run, each in a fresh
    process that loads its training from a cache (so it never imports torch).
Prints Markdown tables. Run: python benchmarks/bench_render.py [--quick]
"""

# Only the standard library is imported at module level: the memory probes re-run this file,
# and a child's ru_maxrss starts at its parent's peak RSS (Linux carries it across fork + exec).

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LONG_RUN = "threshold__threshold-0.1"
PROBE_CONFIG = """
title = "memory probe"
[defaults]
threshold = 0.0
[[sweep]]
name = "probe"
vary = {{ max_iters = [{iters}] }}
"""


# --------------------------------------------------------------------------- (c) memory probe, in a child


def memory_probe(cache_root: str, iters: int) -> None:
    """Render one run of ``iters`` iterations (training from the cache); print measurements as JSON."""
    from harness import trained

    from reportgen.config.load import parse_config
    from reportgen.infra.cache import Cache
    from reportgen.media.render import make_task, render_task

    config = parse_config(PROBE_CONFIG.format(iters=iters))
    (result,) = trained(config, Path(cache_root))
    assert "torch" not in sys.modules, "the probe must load its training from the cache"
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory(prefix="bench-render-probe-") as tmp:
        task = make_task(config, result, config.render.formats, Cache(Path(tmp)), "en")
        start = time.perf_counter()
        media = render_task(task)
        seconds = time.perf_counter() - start
        sizes = {fmt: Path(path).stat().st_size for fmt, path in media.files.items()}
    print(json.dumps({"frames": media.frames, "seconds": seconds, "baseline_kb": baseline,
                      "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "ffmpeg_maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "sizes": sizes}))


def run_probe(cache_root: Path, iters: int) -> dict:
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--memory-probe", str(cache_root), str(iters)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"memory probe of {iters} iterations failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- (a) the usual way


def render_usual(job, plan, out: Path) -> int:
    """Draw every frame from scratch with pyplot and FuncAnimation, save it with FFMpegWriter; return the draws."""
    import imageio_ffmpeg
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.animation import FFMpegWriter, FuncAnimation

    from reportgen.media.layouts import WIDE_FRAME as frame

    matplotlib.rcParams["animation.ffmpeg_path"] = imageio_ffmpeg.get_ffmpeg_exe()
    matplotlib.rcParams["font.size"] = frame.font_pt
    fig = plt.figure(figsize=frame.figsize, dpi=100)
    ax, sx, lx = (fig.add_axes(p.rect) for p in (frame.fit, frame.surface, frame.loss))
    gw, gb = np.meshgrid(np.linspace(*plan.w_range, 200), np.linspace(*plan.b_range, 200))
    surface = job.loss_at(gw, gb)
    xs = np.array(plan.x_range)
    draws = 0

    def update(t: int) -> None:
        nonlocal draws
        draws += 1
        for axes in (ax, sx, lx):
            axes.clear()
        ax.scatter(job.x, job.y, s=30)
        ax.plot(xs, job.slope * xs + job.intercept, "--", color="0.35")
        ax.plot(xs, job.w[t] * xs + job.b[t], "-", color="#c62828", lw=3.5)
        ax.set_xlim(*plan.x_range)
        ax.set_ylim(*plan.y_range)
        sx.contour(gw, gb, surface, levels=list(plan.contour_levels), colors="0.62")
        sx.plot(job.w[: t + 1], job.b[: t + 1], "-", color="#c62828")
        sx.plot([job.w_star], [job.b_star], "*", color="black", ms=17)
        sx.set_xlim(*plan.w_range)
        sx.set_ylim(*plan.b_range)
        lx.plot(np.arange(t + 1), job.loss[: t + 1], "-")
        lx.set_yscale("log")
        lx.set_xlim(-0.5, len(job.loss) - 0.5)
        lx.set_ylim(*plan.loss_range)
        fig.suptitle(f"{job.title}\nt = {t}   w = {job.w[t]:.4f}   b = {job.b[t]:.4f}   L = {job.loss[t]:.4f}")

    anim = FuncAnimation(fig, update, frames=list(plan.iterations), repeat=False)
    anim.save(out / "usual.mp4", writer=FFMpegWriter(fps=plan.fps), dpi=100)
    plt.close(fig)
    return draws


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 frames in (a), probes of 50 and 500 iterations")
    parser.add_argument("--memory-probe", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if args.memory_probe is not None:
        memory_probe(args.memory_probe[0], int(args.memory_probe[1]))
        return

    from reportgen.site.views import versions

    found = versions("pillow")
    print(f"torch {found['torch']}, matplotlib {found['matplotlib']}, pillow {found['pillow']}, "
          f"imageio-ffmpeg {found['imageio-ffmpeg']}, python {found['Python']}, "
          f"{len(os.sched_getaffinity(0))} usable cores")
    print()
    small, large = (50, 500) if args.quick else (100, 1000)

    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp_name:
        tmp = Path(tmp_name)
        # (c) first, while this process is small; the parent trains the probes' runs into a cache.
        probes = {}
        for iters in (small, large):
            subprocess.run([sys.executable, "-c",
                            "import sys; sys.path.insert(0, sys.argv[1]); from harness import trained; "
                            "from reportgen.config.load import parse_config; "
                            f"trained(parse_config({PROBE_CONFIG.format(iters=iters)!r}), __import__('pathlib').Path(sys.argv[2]))",
                            str(Path(__file__).resolve().parent), str(tmp / f"probe-{iters}")], check=True)
            probes[iters] = run_probe(tmp / f"probe-{iters}", iters)

        # (b) cold default builds, each in a fresh process and an empty folder: wide drawings only, and with the
        # phone drawings too (the default), alternating, twice.
        wide_only = tmp / "wide-only.toml"
        subprocess.run([sys.executable, "-m", "reportgen", "init", str(wide_only)], check=True, capture_output=True)
        text = wide_only.read_text()
        assert "\nphone = true " in text, "reportgen init writes every option"
        wide_only.write_text(text.replace("\nphone = true ", "\nphone = false", 1))
        colds: dict[str, list[float]] = {"wide only": [], "wide + phone": []}
        for round_ in range(2):
            for name, extra in (("wide only", ["--config", str(wide_only)]), ("wide + phone", [])):
                out = tmp / f"cold-{round_}-{name.replace(' ', '')}" / "site"
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "reportgen", "build", "--out", str(out), "-q", *extra], check=True)
                colds[name].append(time.perf_counter() - start)
        doc = json.loads((out / "results.json").read_text())
        cold_frames = sum(r["frames"] for r in doc["runs"] if r["frames"])
        phone_mp4 = sum(p.stat().st_size for p in out.glob("media/*.phone.mp4"))
        wide_mp4 = sum(p.stat().st_size for p in out.glob("media/*.mp4")) - phone_mp4

        # (a) both ways, side by side, at the same frames.
        from harness import trained

        from reportgen.config.load import load_config
        from reportgen.infra.cache import Cache
        from reportgen.media.plan import plan
        from reportgen.media.render import make_task, render_task

        config = load_config()
        result = next(r for r in trained(config, tmp / "train") if r.id == LONG_RUN)
        task = make_task(config, result, config.render.formats, Cache(tmp / "ours"), "en")
        job = task.job
        if args.quick:
            import dataclasses

            job = dataclasses.replace(job, loss=job.loss[:200], w=job.w[:200], b=job.b[:200])
            task = dataclasses.replace(task, job=job)
        frame_plan = plan(job)
        frames = len(frame_plan.iterations)
        start = time.perf_counter()
        ours = render_task(task)
        t_ours = time.perf_counter() - start
        assert ours.frames == frames
        start = time.perf_counter()
        draws = render_usual(job, frame_plan, tmp)
        t_usual = time.perf_counter() - start

    print(f"## (a) One run, {frames} frames (every iteration of {LONG_RUN}), three views, 800 x 680 px")
    print()
    print("| method | total | ms/frame | speed-up |")
    print("| --- | --- | --- | --- |")
    print(f"| pyplot + FuncAnimation, everything redrawn, FFMpegWriter (MP4 only) | {t_usual:.2f} s "
          f"| {1000 * t_usual / frames:.1f} | 1.0x |")
    print(f"| reportgen render_task, jobs 1 (MP4 + GIF + poster) | {t_ours:.2f} s | {1000 * t_ours / frames:.1f} "
          f"| **{t_usual / t_ours:.1f}x** |")
    print()
    verdict = "met" if 1000 * t_ours / frames <= 15 else "NOT met"
    print(f"reportgen: {1000 * t_ours / frames:.1f} ms per frame (target <= 15): {verdict}. "
          f"The usual way drew {draws} frames (FuncAnimation's update ran once per frame).")
    print()
    print(f"## (b) Cold build of the built-in config: {cold_frames} animation frames, every iteration, side by side")
    print()
    print("| build | wall time, two rounds | vs wide only |\n| --- | --- | --- |")
    base = sum(colds["wide only"]) / 2
    for name, times in colds.items():
        target = " (target <= 45 s)" if name == "wide + phone" else ""
        print(f"| {name} | {' / '.join(f'{t:.1f} s' for t in times)}{target} | {sum(times) / 2 / base:.2f}x |")
    print()
    print(f"MP4 bytes: wide {wide_mp4 / 1e6:.2f} MB, phone {phone_mp4 / 1e6:.2f} MB.")
    print()
    lo, hi = probes[small], probes[large]
    print("## (c) Peak memory of render_task, one run, fresh process (training from the cache, no torch)")
    print()
    print(f"| measurement | {small} iterations | {large} iterations | ratio |")
    print("| --- | --- | --- | --- |")
    print(f"| peak RSS, renderer (ru_maxrss) | {lo['maxrss_kb']:,} KB | {hi['maxrss_kb']:,} KB "
          f"| **{hi['maxrss_kb'] / lo['maxrss_kb']:.2f}x** (target < 1.5x) |")
    print(f"| of which before rendering | {lo['baseline_kb']:,} KB | {hi['baseline_kb']:,} KB | |")
    print(f"| peak RSS, ffmpeg child (ru_maxrss) | {lo['ffmpeg_maxrss_kb']:,} KB | {hi['ffmpeg_maxrss_kb']:,} KB "
          f"| {hi['ffmpeg_maxrss_kb'] / lo['ffmpeg_maxrss_kb']:.2f}x |")
    print(f"| render time | {1000 * lo['seconds'] / lo['frames']:.1f} ms/frame | "
          f"{1000 * hi['seconds'] / hi['frames']:.1f} ms/frame | |")
    print(f"| MP4 / GIF size | {lo['sizes']['mp4'] // 1024:,} / {lo['sizes']['gif'] // 1024:,} KB "
          f"| {hi['sizes']['mp4'] // 1024:,} / {hi['sizes']['gif'] // 1024:,} KB | |")


if __name__ == "__main__":
    main()
