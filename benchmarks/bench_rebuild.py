"""A cold build of the built-in config against rebuilds with nothing changed.

Every build runs as `python -m reportgen build` in a fresh process, side by side
in one run: the cold build into an empty folder (no cache), then REPEATS rounds
of two rebuilds of the same site: the no-op one (the build stamp finds the site
up to date and stops) and one with `--force` (the whole pipeline again, every
run, animation and figure from the cache, the pages rendered and the site
swapped in). Prints wall times, the ratios, and whether each imported torch,
matplotlib or numpy.
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
    "import sys; from reportgen.cli import main; code = main(sys.argv[1:]);"
    "print(*(m in sys.modules for m in ('torch', 'matplotlib', 'numpy'))); sys.exit(code)"
)
MODULES = ("torch", "matplotlib", "numpy")


def timed_build(out: Path, lang: str, *extra: str) -> tuple[float, dict[str, bool]]:
    """Build in a fresh process; return its wall time and which of MODULES it imported."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE, "build", "--out", str(out), "-q", "--lang", lang, *extra],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"build failed:\n{done.stderr}")
    imported = dict(zip(MODULES, (word == "True" for word in done.stdout.split()[-3:])))
    return seconds, imported


def row(name: str, runs: list[tuple[float, dict[str, bool]]], cold: float) -> str:
    times = [seconds for seconds, _ in runs]
    median = statistics.median(times)
    imported = ", ".join(m for m in MODULES if any(i[m] for _, i in runs)) or "none of them"
    return (f"| {name}, median of {len(times)} (min {min(times):.2f} s, max {max(times):.2f} s) | **{median:.2f} s** "
            f"| {cold / median:.0f}x | {imported} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="rounds of rebuilds to time (default 7)")
    parser.add_argument("--lang", default="en", help="--lang of every build (default en)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as tmp:
        out = Path(tmp) / "site"
        cold, cold_imports = timed_build(out, args.lang)
        noop, forced = [], []
        for _ in range(args.repeats):  # interleaved, so that a busy moment of the machine hits both alike
            noop.append(timed_build(out, args.lang))
            forced.append(timed_build(out, args.lang, "--force"))
    print(f"## Built-in config, --lang {args.lang}: a cold build against rebuilds with nothing changed")
    print()
    print("| build | wall time | cold / this | imported (torch, matplotlib, numpy) |")
    print("| --- | --- | --- | --- |")
    cold_imported = ", ".join(m for m in MODULES if cold_imports[m])
    print(f"| cold build (empty cache) | {cold:.2f} s | 1x | {cold_imported} |")
    print(row("no-op rebuild", noop, cold))
    print(row("`--force` rebuild from the cache", forced, cold))
    print()
    print("Targets: the no-op rebuild under 0.5 s and at least 30x faster than the cold build, importing neither "
          "torch nor matplotlib.")


if __name__ == "__main__":
    main()
