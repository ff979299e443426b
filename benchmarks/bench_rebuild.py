"""A cold build of the built-in config against a rebuild with nothing changed.

Both run as `python -m reportgen build` in fresh processes, side by side in one
run: the cold build into an empty folder (no cache), then REPEATS no-op rebuilds
of the same site. Prints wall times, the ratio, and whether the rebuild imported
torch or matplotlib (it must import neither).
Run: python benchmarks/bench_rebuild.py [--repeats N] [--lang LANG]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBE = (
    "import sys, runpy; sys.argv = ['reportgen', 'build', '--out', {out!r}, '-q', '--lang', {lang!r}];"
    "from reportgen.cli import main; code = main();"
    "print('torch' in sys.modules, 'matplotlib' in sys.modules); sys.exit(code)"
)


def timed_build(out: Path, lang: str) -> tuple[float, bool, bool]:
    """Build in a fresh process; return its wall time and whether it imported torch and matplotlib."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE.format(out=str(out), lang=lang)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"build failed:\n{done.stderr}")
    torch, mpl = (word == "True" for word in done.stdout.split())
    return seconds, torch, mpl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="no-op rebuilds to time (default 5)")
    parser.add_argument("--lang", default="en", help="--lang of both builds (default en)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as tmp:
        out = Path(tmp) / "site"
        cold, cold_torch, cold_mpl = timed_build(out, args.lang)
        rebuilds = [timed_build(out, args.lang) for _ in range(args.repeats)]
    times = [seconds for seconds, _, _ in rebuilds]
    median = statistics.median(times)
    print(f"## Built-in config, --lang {args.lang}: cold build against {args.repeats} no-op rebuilds")
    print()
    print("| measurement | value |")
    print("| --- | --- |")
    print(f"| cold build (empty cache) | {cold:.2f} s (torch imported: {cold_torch}, matplotlib: {cold_mpl}) |")
    print(f"| no-op rebuild, median of {args.repeats} (min {min(times):.2f} s, max {max(times):.2f} s) | {median:.2f} s |")
    print(f"| speed-up | **{cold / median:.0f}x** (target >= 30x; rebuild target < 0.5 s) |")
    print(f"| no-op rebuild imported torch / matplotlib | {any(t for _, t, _ in rebuilds)} / {any(m for _, _, m in rebuilds)} |")


if __name__ == "__main__":
    main()
