"""Scale: a 100 x 100 slope x lr grid trained and analysed, and rendering on 1, 2 and 4 dask workers.

(a) One 2-D sweep of SIDE slopes (0.5 to 5) x SIDE learning rates (0.001 to 1.2x the
    stability bound 2/lambda_max of seed 10), max_iters 1000, through expand_grid,
    draw_data, train_grid and analyse: wall time and peak RSS after each stage.
(b) RENDERS runs picked across the default grid, rendered (GIF + MP4 + poster) by
    render_runs on a dask LocalCluster of 1, 2 and 4 single-threaded workers, and by
    the local process pool for reference, each into a fresh cache: runs/s, frames/s
    and speed-up against 1 worker.
(c) The same grid built cold, the whole command: `python -m reportgen build` into an
    empty folder (no cache beside it), ROUNDS times; with --against PATH, a checkout
    of another version of reportgen too, alternating with this one, so that both see
    the same machine (the target: under 8 s on 2 cores).
Prints Markdown tables. Run: python benchmarks/bench_scale.py [--side N] [--iters N] [--renders N]
    [--rounds N] [--against PATH] [--only-build]
"""

# Only the standard library is imported at module level: dask's workers are spawned
# processes that re-import this file, and must not each pay for torch.

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reportgen.infra.process import batch_job

WORKERS = (1, 2, 4)


def peak_rss_mib() -> float:
    """Peak RSS of this process so far, in MiB (ru_maxrss is in KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def linspace(lo: float, hi: float, n: int) -> list[float]:
    # Rounded so run ids and the TOML stay short; 6 significant digits keep every value distinct.
    return [float(f"{lo + (hi - lo) * i / (n - 1):.6g}") for i in range(n)]


# --------------------------------------------------------------------------- (a) a 100 x 100 grid


def stability_bound(seed: int) -> float:
    """Return 2/lambda_max of the default data drawn under ``seed`` (it does not depend on slope)."""
    from reportgen.config.grid import RunSpec
    from reportgen.config.schema import Params
    from reportgen.train.analysis import analyse
    from reportgen.train.batched import draw_data

    params = Params(seed=seed)
    return analyse(draw_data([RunSpec("probe", "probe", params, {})])[0], params).lr_max


def grid_config(side: int, iters: int) -> tuple[str, list[float], list[float], float]:
    """Return the grid's config text, its slopes and lrs, and the stability bound its lrs reach past."""
    lr_max = stability_bound(10)
    slopes, lrs = linspace(0.5, 5.0, side), linspace(0.001, 1.2 * lr_max, side)
    text = (
        f'title = "Scale"\n[defaults]\nmax_iters = {iters}\nseed = 10\n'
        f'[[sweep]]\nname = "slope-lr"\nanimate = "none"\n'
        f"vary = {{ slope = {slopes}, lr = {lrs} }}\n"
    )
    return text, slopes, lrs, lr_max


def bench_grid(side: int, iters: int) -> None:
    from reportgen.config.grid import expand_grid
    from reportgen.config.load import parse_config
    from reportgen.core.i18n import translations
    from reportgen.core.languages import DEFAULT
    from reportgen.figures.plots import heatmap_svg
    from reportgen.train.analysis import analyse_all
    from reportgen.train.batched import draw_data, train_grid
    from reportgen.train.run import RunResult

    rows: list[tuple[str, float | None, float | None]] = [("imports (torch, reportgen)", None, peak_rss_mib())]
    text, slopes, lrs, lr_max = grid_config(side, iters)

    def stage(name: str, fn):
        start = time.perf_counter()
        value = fn()
        rows.append((name, time.perf_counter() - start, peak_rss_mib()))
        return value

    specs = stage("parse config + expand_grid", lambda: expand_grid(parse_config(text)))
    data = stage("draw_data", lambda: draw_data(specs))
    trajectories = stage(f"train_grid ({iters} iterations, batched)", lambda: train_grid(specs, data))
    analyses = stage("analyse (arrays over the runs)", lambda: analyse_all(data, [s.params for s in specs]))
    results = [RunResult(s, d, t, a) for s, d, t, a in zip(specs, data, trajectories, analyses)]
    stage("heatmap (SVG)", lambda: heatmap_svg("Scale", ("slope", "lr"), results, translations(DEFAULT)))

    statuses: dict[str, int] = {}
    for t in trajectories:
        statuses[t.status] = statuses.get(t.status, 0) + 1
    timed = sum(seconds for _, seconds, _ in rows if seconds is not None)
    outcome = ", ".join(f"{n:,} {status.replace('_', ' ')}" for status, n in sorted(statuses.items()))

    print(f"## (a) {side} x {side} grid = {len(specs):,} runs, max_iters {iters}, seed 10")
    print()
    print(f"slopes {slopes[0]:g} .. {slopes[-1]:g}; lrs {lrs[0]:g} .. {lrs[-1]:g} (1.2x the stability bound {lr_max:.5f}); "
          f"outcome: {outcome}")
    print()
    print("| stage | wall time | peak RSS after it |")
    print("| --- | --- | --- |")
    for name, seconds, rss in rows:
        wall = "-" if seconds is None else f"{seconds:.2f} s"
        rss_text = f"{rss:,.0f} MiB"
        print(f"| {name} | {wall} | {rss_text} |")
    print(f"| **total of the timed stages** | **{timed:.2f} s** | **{peak_rss_mib():,.0f} MiB** |")
    print()


# --------------------------------------------------------------------------- (b) rendering on dask


def bench_render(count: int, root: Path) -> None:
    from harness import render_fresh, trained

    from reportgen.config.load import load_config
    from reportgen.infra.executors import make_executor

    config = load_config()
    results = trained(config, root)
    step = max(1, len(results) // count)
    picked = results[::step][:count]  # spread over every sweep: short, long and diverged runs
    formats = config.render.formats
    frames: set[int] = set()

    def render(label: str, jobs: int, executor=None) -> float:
        # jobs only chooses render_runs' parallel path with an executor; the cluster's size sets the parallelism.
        seconds, drawn = render_fresh(config, picked, root / label, jobs, executor)
        frames.add(drawn)
        return seconds

    rows = []  # (label, cluster start, cold render, warm render)
    for n in WORKERS:
        start = time.perf_counter()
        with make_executor("dask", n) as executor:
            started = time.perf_counter() - start
            # jobs only chooses render_runs' parallel path here (jobs <= 1 would render in this
            # process); the cluster's size sets the parallelism. The second pass runs on workers
            # that have already imported matplotlib and built their figure.
            cold = render(f"dask-{n}-cold", len(picked), executor)
            warm = render(f"dask-{n}-warm", len(picked), executor)
            rows.append((f"dask LocalCluster, {n} worker{'s' * (n > 1)}", started, cold, warm))
    rows.append(("local process pool, jobs=2 (a new pool per call)", None, render("local-2", 2), None))

    _, _, base_cold, base_warm = rows[0]
    assert len(frames) == 1, f"every pass must draw the same frames: {frames}"
    frames = frames.pop()
    print(f"## (b) rendering {len(picked)} default-grid runs, {frames} frames, {' + '.join(formats)} + poster "
          f"({config.render.dpi} dpi), each pass into a fresh cache")
    print()
    print("| executor | cluster start | render, cold workers | render, warm workers | runs/s (warm) | frames/s (warm) "
          "| speed-up vs 1 worker (cold / warm) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, started, cold, warm in rows:
        start_text = "-" if started is None else f"{started:.1f} s"
        if warm is None:
            print(f"| {label} | {start_text} | {cold:.2f} s | - | - | - | {base_cold / cold:.2f}x / - |")
        else:
            print(f"| {label} | {start_text} | {cold:.2f} s | {warm:.2f} s | {len(picked) / warm:.2f} "
                  f"| {frames / warm:.0f} | {base_cold / cold:.2f}x / {base_warm / warm:.2f}x |")
    print()
    cores = len(os.sched_getaffinity(0))
    print(f"This machine has {cores} usable cores: {cores} workers is the most that can run at once, so "
          f"4 workers cannot scale beyond {cores}x (each worker's ffmpeg encoder shares the same cores). Cold: "
          "each worker pays its imports and figure setup on its first run, as a build does; warm: the same "
          "cluster again. 'cluster start' is the LocalCluster and Client coming up, once per build.")


# --------------------------------------------------------------------------- (c) the cold build


def bench_build(side: int, iters: int, rounds: int, against: Path | None, root: Path) -> None:
    """Time the whole build command on the grid, cold, alternating with the checkout at ``against``."""
    config = root / "grid.toml"
    config.write_text(grid_config(side, iters)[0])
    here = Path(__file__).resolve().parents[1]
    versions = [("this checkout", here)] + ([("--against " + str(against), against.resolve())] if against else [])
    times: dict[str, list[float]] = {label: [] for label, _ in versions}
    for n in range(rounds):
        for label, checkout in versions:
            out = root / f"round-{n}-{len(times[label])}-{abs(hash(label))}" / "site"  # an empty folder: no cache
            environment = {**os.environ, "PYTHONPATH": str(checkout)}
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "reportgen", "build", "--config", str(config), "--out", str(out),
                            "-q"], check=True, env=environment, cwd=checkout)
            times[label].append(time.perf_counter() - start)
    print(f"## (c) the {side} x {side} grid built cold: `python -m reportgen build` into an empty folder, "
          f"{rounds} round{'s' * (rounds > 1)}{', alternating' if against else ''}")
    print()
    print("| reportgen | each round | median |" + (" against this checkout |" if against else ""))
    print("| --- | --- | --- |" + (" --- |" if against else ""))
    mine = statistics.median(times[versions[0][0]])
    for label, _ in versions:
        median = statistics.median(times[label])
        ratio = f" {median / mine:.2f}x |" if against else ""
        print(f"| {label} | {' / '.join(f'{t:.2f} s' for t in times[label])} | {median:.2f} s |{ratio}")
    print()


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=100, help="slopes and learning rates of the grid (default 100)")
    parser.add_argument("--iters", type=int, default=1000, help="max_iters of the grid (default 1000)")
    parser.add_argument("--renders", type=int, default=16, help="runs rendered in (b) (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="cold builds in (c), of each version (default 3)")
    parser.add_argument("--against", type=Path, help="a checkout of another reportgen to build (c) with too")
    parser.add_argument("--only-build", action="store_true", help="run (c) alone")
    args = parser.parse_args()
    batch_job()  # (a) and (b) run in this process, as in the reportgen command's

    import torch

    from reportgen.site.views import versions

    found = versions("dask", "distributed")
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), dask {found['dask']}, "
          f"distributed {found['distributed']}, python {found['Python']}, {len(os.sched_getaffinity(0))} usable cores")
    print()
    started = time.perf_counter()
    if not args.only_build:
        bench_grid(args.side, args.iters)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        if not args.only_build:
            bench_render(args.renders, Path(tmp))
        bench_build(args.side, args.iters, args.rounds, args.against, Path(tmp))
    print()
    print(f"Total benchmark time: {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
