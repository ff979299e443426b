"""Batched trainer against the per-run course loop: 10,000 runs x 1,000 iterations.

Prints wall times and ratios measured side by side in one process. The per-run
loop is timed on a sample of runs and extrapolated (said so in the output).
The process is tuned as the reportgen command tunes its own (infra/process.batch_job: garbage collector and
glibc's heap); --default-heap leaves glibc's malloc as it comes, for comparison.
Run: python benchmarks/bench_train.py [--runs N] [--iters N] [--sample N] [--default-heap]
"""

from __future__ import annotations

import argparse
import time

import torch

from reportgen.config.grid import RunSpec
from reportgen.config.schema import Params
from reportgen.infra.process import batch_job
from reportgen.train.batched import draw_data, train_grid
from reportgen.train.course import course_loop


def grid(n_runs: int, iters: int) -> list[RunSpec]:
    # threshold 0: no run stops; lr 0.01: none diverges (the default 0.05 is past 2/λmax for some seeds' data,
    # λmax <= mean(x²) + 1 <= 101 here). Every run costs the full budget.
    return [
        RunSpec(f"r{i}", "bench", Params(seed=i, slope=1 + (i % 100) / 25, threshold=0.0, lr=0.01, max_iters=iters), {})
        for i in range(n_runs)
    ]


def time_batched(specs: list[RunSpec]) -> float:
    start = time.perf_counter()
    data = draw_data(specs)
    train_grid(specs, data)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--iters", type=int, default=1_000)
    parser.add_argument("--sample", type=int, default=20, help="runs of the per-run loop actually timed")
    parser.add_argument("--default-heap", action="store_true", help="leave glibc's malloc thresholds as they come")
    args = parser.parse_args()
    heap = "heap tuned" if batch_job(heap=not args.default_heap) else "heap as the C library keeps it"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {heap}")

    specs = grid(args.runs, args.iters)
    one = time_batched(specs[:1])
    batched = time_batched(specs)

    sample = specs[: args.sample]
    start = time.perf_counter()
    for spec in sample:
        course_loop(spec.params)
    per_run = (time.perf_counter() - start) / len(sample)
    loop_total = per_run * args.runs

    print("| measurement | value |")
    print("| --- | --- |")
    print(f"| batched, 1 run x {args.iters} iters | {one:.3f} s |")
    print(f"| batched, {args.runs} runs x {args.iters} iters | {batched:.2f} s |")
    print(f"| per-run course loop, 1 run (mean of {len(sample)}) | {per_run:.3f} s |")
    print(f"| per-run course loop, {args.runs} runs (extrapolated from {len(sample)}) | {loop_total:.0f} s |")
    print(f"| speed-up, batched vs per-run loop | {loop_total / batched:.0f}x (target >= 500x) |")
    print(f"| cost of {args.runs} runs vs 1 run, batched | {batched / one:.1f}x |")


if __name__ == "__main__":
    main()
