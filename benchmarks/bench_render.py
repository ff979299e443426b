"""Frame rendering of reportgen against the usual pyplot + FuncAnimation loop, and its memory.

Renders the default grid's frames (the iterations each run's FrameJob lists)
three ways, side by side in one process, to GIF + MP4:
  (a) the usual way: a pyplot figure per run and a FuncAnimation whose update
      clears both axes and re-plots everything, saved once with PillowWriter
      (GIF) and once with FFMpegWriter (MP4), so every frame is drawn twice;
  (b) reportgen, render_runs(tasks, jobs=1);
  (c) reportgen, render_runs(tasks, jobs=default_jobs()), into a fresh cache.
Then the peak RSS of one synthetic run of 100 and 1,000 frames rendered by
render_task (GIF + MP4 + poster), each in a fresh subprocess of this script.
Prints Markdown tables of measurements and ratios.
Run: python benchmarks/bench_render.py [--quick] [--memory-frames N N]
"""

# Only the standard library is imported at module level: the spawned workers of (c)
# re-import this file, and the memory probes must be started while this process is small
# (a child's ru_maxrss starts at its parent's peak RSS: Linux carries it across fork + exec).

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path

FORMATS = ("gif", "mp4")


# --------------------------------------------------------------------------- memory probe (child)


def vm_hwm_kb(pid: int | str = "self") -> int | None:
    """Peak RSS of one process image in KB (/proc VmHWM), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fp:
            for line in fp:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def child_pids() -> list[int]:
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fp:
                stat = fp.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            found.append(int(entry))
    return found


class ChildPeaks(threading.Thread):
    """Sample the VmHWM of this process's children (ffmpeg) until stopped."""

    def __init__(self, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.peaks: dict[int, int] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for pid in child_pids():
                hwm = vm_hwm_kb(pid)
                if hwm is not None:
                    self.peaks[pid] = max(hwm, self.peaks.get(pid, 0))
            self.done.wait(self.every)

    def stop(self) -> int | None:
        self.done.set()
        self.join()
        return max(self.peaks.values(), default=None)


def memory_probe(n_frames: int) -> None:
    """Render one synthetic run of exactly ``n_frames`` frames; print measurements as JSON."""
    import numpy as np

    from reportgen.animation import FrameJob
    from reportgen.config import load_config
    from reportgen.render import RenderTask, render_task
    from reportgen.trajectory import Status

    import reportgen.encode  # noqa: F401 - loaded before the baseline, as render_task loads it

    config = load_config()
    p, settings = config.defaults, config.render
    # The course's data shape (default parameters), drawn with numpy: no torch in this process.
    rng = np.random.default_rng(p.seed)
    x = (rng.random(p.n_points) * p.x_max).astype(np.float32)
    y = (p.slope * x + p.intercept + p.noise * rng.standard_normal(p.n_points)).astype(np.float32)
    design = np.stack([x, np.ones_like(x)], axis=1).astype(np.float64)
    (w_star, b_star), *_ = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)
    floor = float(0.5 * np.mean((y - (w_star * x + b_star)) ** 2))
    # A converging history: the gap to the optimum shrinks to 0.1 % over the run.
    n_iters = (n_frames - 1) * settings.frame_every + 1  # iterations 0, 20, ..., last: n_frames frames
    decay = np.exp(np.log(1e-3) * np.arange(n_iters) / n_iters)
    w0 = float(rng.standard_normal())
    w = (w_star + (w0 - w_star) * decay).astype(np.float32)
    b = (b_star + (0.0 - b_star) * decay).astype(np.float32)
    loss = (0.5 * np.mean((y[None, :] - (w[:, None] * x[None, :] + b[:, None])) ** 2, axis=1)).astype(np.float32)
    job = FrameJob(
        run_id=f"probe-{n_frames}", title=f"memory probe: {n_frames} frames", x=x, y=y, slope=p.slope,
        intercept=p.intercept, threshold=p.threshold, loss_floor=floor, status=Status.BUDGET_EXHAUSTED,
        diverged_at=None, loss=loss, w=w, b=b, frame_every=settings.frame_every,
    )
    assert len(job.iterations) == n_frames
    baseline = vm_hwm_kb()
    sampler = ChildPeaks()
    sampler.start()
    with tempfile.TemporaryDirectory(prefix="bench-render-probe-") as tmp:
        task = RenderTask(f"probe-{n_frames}", job, FORMATS, settings.fps, settings.dpi, tmp)
        start = time.perf_counter()
        outcome = render_task(task)
        seconds = time.perf_counter() - start
        sizes = {fmt: Path(path).stat().st_size for fmt, path in outcome.files.items()}
    ffmpeg_hwm = sampler.stop()
    print(json.dumps({
        "frames": outcome.frames,
        "seconds": seconds,
        "self_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "self_vmhwm_kb": vm_hwm_kb(),
        "baseline_vmhwm_kb": baseline,
        "children_maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        "ffmpeg_vmhwm_kb": ffmpeg_hwm,
        "sizes": sizes,
    }))


def run_probe(n_frames: int) -> dict:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--memory-probe", str(n_frames)],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        sys.exit(f"memory probe of {n_frames} frames failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- (a) the usual way


def render_usual(jobs: list, out: Path, fps: int, dpi: int) -> tuple[int, int]:
    """Per run: pyplot figure, FuncAnimation redrawing from scratch, saved to GIF then to MP4.

    Returns how many times the update function ran and how many times the whole figure was drawn.
    """
    import imageio_ffmpeg
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.animation import FFMpegWriter, FuncAnimation, PillowWriter

    from reportgen.animation import FIGSIZE

    matplotlib.rcParams["animation.ffmpeg_path"] = imageio_ffmpeg.get_ffmpeg_exe()
    calls = draws = 0

    def drawn(_event: object) -> None:
        nonlocal draws
        draws += 1

    for job in jobs:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=FIGSIZE, dpi=dpi)
        fig.canvas.mpl_connect("draw_event", drawn)
        xs = np.linspace(0, float(job.x.max()) * 1.05, 64)
        true_y = job.slope * xs + job.intercept
        y_lo = min(job.y.min(), true_y.min()) - 1
        y_hi = max(job.y.max(), true_y.max()) + 1

        def update(t: int) -> None:
            nonlocal calls
            calls += 1
            ax1.clear()
            ax1.scatter(job.x, job.y, s=18, label="data")
            ax1.plot(xs, true_y, "--", color="gray", label=f"true line y = {job.slope:g}x + {job.intercept:g}")
            ax1.plot(xs, job.w[t] * xs + job.b[t], "r-", lw=3, label="fit y = wx + b")
            ax1.set_ylim(y_lo, y_hi)
            ax1.set_xlabel("x")
            ax1.set_ylabel("y")
            ax1.legend(loc="upper left")
            ax2.clear()
            ax2.plot(range(t + 1), job.loss[: t + 1], label="loss")
            ax2.set_yscale("log")
            ax2.axhline(job.threshold, ls="--", color="orange", label=f"stop threshold {job.threshold:g}")
            ax2.axhline(job.loss_floor, ls=":", color="green", label=f"loss floor {job.loss_floor:.4f}")
            ax2.set_xlabel("iteration")
            ax2.set_ylabel("loss (log scale)")
            ax2.legend(loc="upper right")
            fig.suptitle(f"{job.title}\niteration {t}   w = {job.w[t]:.4f}   b = {job.b[t]:.4f}   loss = {job.loss[t]:.4f}")

        anim = FuncAnimation(fig, update, frames=job.iterations, repeat=False)
        anim.save(out / f"{job.run_id}.gif", writer=PillowWriter(fps=fps), dpi=dpi)
        anim.save(out / f"{job.run_id}.mp4", writer=FFMpegWriter(fps=fps), dpi=dpi)
        plt.close(fig)
    return calls, draws


def warm_up() -> None:
    """Import everything and draw text once (font cache), so no method pays for it."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    import reportgen.encode  # noqa: F401
    import reportgen.frames  # noqa: F401

    fig, ax = plt.subplots()
    ax.plot([1, 2], [1, 10], label="warm-up")
    ax.set_yscale("log")
    ax.legend()
    fig.suptitle("warm-up")
    fig.canvas.draw()
    plt.close(fig)


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs (the last of each sweep) and smaller memory probes")
    parser.add_argument("--memory-frames", type=int, nargs=2, metavar=("SMALL", "LARGE"),
                        help="frames of the two memory probes (default 100 1000; 20 200 with --quick)")
    parser.add_argument("--memory-probe", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe is not None:
        memory_probe(args.memory_probe)
        return

    print(f"torch {version('torch')}, matplotlib {version('matplotlib')}, pillow {version('pillow')}, "
          f"imageio-ffmpeg {version('imageio-ffmpeg')}, python {sys.version.split()[0]}")
    print(f"CPU count: {os.cpu_count()} (os.cpu_count), {len(os.sched_getaffinity(0))} usable")
    print()

    # Memory first, while this process is still small (see the note at the top).
    small, large = args.memory_frames or ((20, 200) if args.quick else (100, 1000))
    probes = {n: run_probe(n) for n in (small, large)}

    import torch

    from reportgen.build import train_runs
    from reportgen.cache import Cache
    from reportgen.config import load_config
    from reportgen.grid import expand_grid
    from reportgen.progress import Progress
    from reportgen.render import default_jobs, make_task, render_runs

    config = load_config()
    specs = expand_grid(config)
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp_name:
        tmp = Path(tmp_name)
        results, _ = train_runs(specs, Cache(tmp / "train", enabled=False), Progress(quiet=True))
        if args.quick:  # the last run of each sweep: a long one, a short one and the diverged one
            last = {r.spec.sweep: r for r in results}
            results = list(last.values())
        jobs_c = default_jobs()
        tasks_b = [make_task(config, r, FORMATS, Cache(tmp / "cache-b"), "en") for r in results]
        tasks_c = [make_task(config, r, FORMATS, Cache(tmp / "cache-c"), "en") for r in results]
        frame_jobs = [t.job for t in tasks_b]
        frames = sum(len(j.iterations) for j in frame_jobs)
        settings = config.render

        warm_up()
        usual_dir = tmp / "usual"
        usual_dir.mkdir()
        start = time.perf_counter()
        updates, draws = render_usual(frame_jobs, usual_dir, settings.fps, settings.dpi)
        t_a = time.perf_counter() - start

        start = time.perf_counter()
        out_b = render_runs(tasks_b, jobs=1)
        t_b = time.perf_counter() - start

        start = time.perf_counter()
        out_c = render_runs(tasks_c, jobs=jobs_c)
        t_c = time.perf_counter() - start

        for name, outcomes in (("(b)", out_b), ("(c)", out_c)):
            drawn = sum(o.frames for o in outcomes.values())
            assert drawn == frames and not any(o.cached for o in outcomes.values()), (name, drawn, frames)
        usual_files = sorted(p.suffix for p in usual_dir.iterdir())
        assert usual_files.count(".gif") == usual_files.count(".mp4") == len(frame_jobs), usual_files

    torch_threads = torch.get_num_threads()
    print(f"## Rendering: {len(frame_jobs)} runs{' (--quick)' if args.quick else ' (default grid)'}, "
          f"{frames} frames, GIF + MP4 ({settings.dpi} dpi, {settings.fps} fps); torch {torch_threads} threads")
    print()
    print("| method | total | ms/frame | speed-up vs (a) |")
    print("| --- | --- | --- | --- |")
    rows = (
        ("(a) pyplot + FuncAnimation, redraw from scratch, PillowWriter + FFMpegWriter", t_a),
        ("(b) reportgen render_runs, jobs=1", t_b),
        (f"(c) reportgen render_runs, jobs={jobs_c} (default_jobs)", t_c),
    )
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} s | {1000 * seconds / frames:.1f} | {t_a / seconds:.1f}x |")
    print()
    print(f"(a) ran its update function {updates} times and drew the whole figure {draws} times for {frames} frames: "
          "each save draws every frame twice on Agg (FuncAnimation's draw_idle, then the writer's savefig).")
    verdict = "met" if t_a / t_b >= 10 else "NOT met"
    print(f"(b) vs (a): {t_a / t_b:.1f}x faster (target >= 10x): {verdict}.")
    print()

    lo, hi = probes[small], probes[large]

    def kb(value: int | None) -> str:
        return "n/a" if value is None else f"{value:,} KB"

    def ratio(key: str) -> str:
        return "n/a" if not lo.get(key) or hi.get(key) is None else f"{hi[key] / lo[key]:.2f}x"

    print(f"## Memory: one synthetic run through render_task (GIF + MP4 + poster), each in a fresh subprocess")
    print()
    print(f"| measurement | {small} frames | {large} frames | ratio {large}/{small} |")
    print("| --- | --- | --- | --- |")
    print(f"| peak RSS, probe process (RUSAGE_SELF ru_maxrss) | {kb(lo['self_maxrss_kb'])} | {kb(hi['self_maxrss_kb'])} "
          f"| {ratio('self_maxrss_kb')} (target < 1.5x) |")
    print(f"| peak RSS, probe process (/proc VmHWM) | {kb(lo['self_vmhwm_kb'])} | {kb(hi['self_vmhwm_kb'])} "
          f"| {ratio('self_vmhwm_kb')} |")
    print(f"| of which before rendering (imports, VmHWM) | {kb(lo['baseline_vmhwm_kb'])} | {kb(hi['baseline_vmhwm_kb'])} "
          f"| {ratio('baseline_vmhwm_kb')} |")
    print(f"| peak RSS, ffmpeg child (RUSAGE_CHILDREN ru_maxrss) | {kb(lo['children_maxrss_kb'])} "
          f"| {kb(hi['children_maxrss_kb'])} | {ratio('children_maxrss_kb')} |")
    print(f"| peak RSS, ffmpeg child (/proc VmHWM, sampled every 50 ms) | {kb(lo['ffmpeg_vmhwm_kb'])} "
          f"| {kb(hi['ffmpeg_vmhwm_kb'])} | {ratio('ffmpeg_vmhwm_kb')} |")
    print(f"| render time | {1000 * lo['seconds'] / lo['frames']:.1f} ms/frame | {1000 * hi['seconds'] / hi['frames']:.1f} ms/frame "
          f"| {hi['seconds'] / lo['seconds']:.2f}x total |")
    print(f"| GIF / MP4 size | {lo['sizes']['gif'] // 1024:,} / {lo['sizes']['mp4'] // 1024:,} KB "
          f"| {hi['sizes']['gif'] // 1024:,} / {hi['sizes']['mp4'] // 1024:,} KB | |")
    print()
    print("ffmpeg is started by the probe after its imports, and Linux carries a parent's peak RSS into its child's "
          "ru_maxrss across fork + exec, so RUSAGE_CHILDREN ru_maxrss is at least the probe's RSS at that moment; "
          "VmHWM is ffmpeg's own peak. The probes run before this process imports torch, for the same reason.")


if __name__ == "__main__":
    main()
