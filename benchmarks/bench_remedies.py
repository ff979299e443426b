"""The remedies' cost: a 100 x 100 lr x momentum grid with the update rules mixed, against the same grid with gd only.

Both grids train 1,000 iterations per run with threshold 0 (no run stops early) in one process, side by side,
alternating, and the median of --repeats turns is taken; the ratio is the target (<= 1.5x). Also timed: the
regime map of the mixed grid's momentum runs (theory's recurrence and each run's measured regime).
Run: python benchmarks/bench_remedies.py [--side N] [--iters N] [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from reportgen.config.grid import RunSpec
from reportgen.config.schema import OPTIMIZERS, Params
from reportgen.infra.process import batch_job
from reportgen.teach.regimes import regime_cells
from reportgen.train.analysis import analyse
from reportgen.train.batched import draw_data, train_grid
from reportgen.train.run import RunResult


def grid(side: int, iters: int, mixed: bool) -> list[RunSpec]:
    """lr x momentum; ``mixed``: the rule cycles gd, momentum, nesterov, adam over the runs."""
    lrs = np.linspace(0.001, 0.03, side)  # every rule is stable here: both grids keep all their runs to the end
    betas = np.linspace(0.0, 0.9, side)
    specs = []
    for i, lr in enumerate(lrs):
        for j, beta in enumerate(betas):
            rule = OPTIMIZERS[(i * side + j) % len(OPTIMIZERS)] if mixed else "gd"
            params = Params(lr=float(lr), momentum=float(beta), optimizer=rule, threshold=0.0, max_iters=iters)
            specs.append(RunSpec(f"r{i}-{j}", "bench", params, {}))
    return specs


def timed(specs: list[RunSpec]) -> float:
    data = draw_data(specs)
    start = time.perf_counter()
    train_grid(specs, data)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=100)
    parser.add_argument("--iters", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    batch_job()  # as the reportgen command's process
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    plain, mixed = grid(args.side, args.iters, False), grid(args.side, args.iters, True)
    timed(plain[:10])  # warm up torch
    times: dict[str, list[float]] = {"gd": [], "mixed": []}
    for _ in range(args.repeats):
        times["gd"].append(timed(plain))
        times["mixed"].append(timed(mixed))
    gd, mix = statistics.median(times["gd"]), statistics.median(times["mixed"])

    momentum = [s for s in mixed if s.params.optimizer == "momentum"]
    data = draw_data(momentum)
    results = [RunResult(s, d, t, analyse(d, s.params)) for s, d, t in zip(momentum, data, train_grid(momentum, data))]
    start = time.perf_counter()
    cells = regime_cells(results)
    regimes = time.perf_counter() - start
    off = sum(not c.agrees and not c.near_edge for c in cells)

    n = args.side * args.side
    print("| measurement | value |")
    print("| --- | --- |")
    print(f"| {n:,} runs x {args.iters} iterations, gd only (median of {args.repeats}) | {gd:.2f} s |")
    print(f"| the same grid, gd / momentum / nesterov / adam mixed | {mix:.2f} s |")
    print(f"| mixed / gd only | **{mix / gd:.2f}x** (target <= 1.5x) |")
    print(f"| regime map of its {len(results):,} momentum runs (recurrence + measured) | {regimes:.2f} s; "
          f"{sum(c.agrees for c in cells):,} agree, {off} differ off an edge |")


if __name__ == "__main__":
    main()
