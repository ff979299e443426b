"""Set the build estimate against real builds: peak memory, results.json, frames and site, side by side.

Each config is estimated as `reportgen build --dry-run` does (plan_build, nothing
built), then built for real in a fresh process. Memory is what the estimate counts:
the whole process tree's (the build, its render workers and their ffmpeg), its RSS
summed and sampled every 50 ms; the build process's own peak (VmHWM) is printed
beside it. Linux only (/proc). An estimate is meant to be an upper bound: every
ratio estimate / real should be >= 1.
Run: python benchmarks/bench_estimate.py [--only NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reportgen.build import BuildOptions, plan_build

# VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's peak at fork (Linux keeps it across exec).
PROBE = (
    "import re, sys; from reportgen.cli import main; from reportgen.infra.process import batch_job;"
    "batch_job(); code = main(sys.argv[1:]);"  # tuned as the reportgen command's process (cli.run)
    "hwm = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1);"
    "print(int(hwm) * 1024, file=sys.stderr); sys.exit(code)"
)


def grid(iters: int) -> str:
    """Return a 10,000-run config, training only: 10 slopes x 10 learning rates x 100 seeds."""
    return f"""
[[sweep]]
name = "grid"
vary = {{ slope = {[1.0 + 0.5 * i for i in range(10)]}, lr = {[round(0.001 * i, 3) for i in range(1, 11)]}, seed = {list(range(1, 101))} }}
animate = "none"
[defaults]
threshold = 0.0
max_iters = {iters}
"""


#: name -> config text (None: the built-in config).
CONFIGS: dict[str, str | None] = {
    "built-in config": None,
    "10,000 runs x 1,000 iterations": grid(1000),
    "10,000 runs x 20 iterations": grid(20),
    "20 runs x 300,000 iterations (history thinned)": """
[defaults]
max_iters = 300000
threshold = 0.0
lr = 0.001
[[sweep]]
name = "long"
vary = { seed = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20] }
animate = "none"
""",
    "8 animated runs, dpi 120, frame_every 5": """
[defaults]
threshold = 0.0
max_iters = 400
[[sweep]]
name = "anim"
vary = { slope = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0] }
[render]
frame_every = 5
dpi = 120
""",
    "explorer of 400 runs (a card and two loss charts each)": """
[defaults]
max_iters = 300
[[sweep]]
name = "grid"
vary = { slope = [%s], lr = [%s] }
[render]
formats = []
""" % (", ".join(str(1 + i / 4) for i in range(20)), ", ".join(str(round(0.002 * (i + 1), 3)) for i in range(20))),
}


def tree_rss(root: int) -> int:
    """Return the RSS of process ``root`` and all its descendants, in bytes, from /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):  # a process that ended meanwhile
                continue
            children.setdefault(parent, []).append(int(name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/status") as status:
                total += next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
    return total


def site_bytes(site: Path) -> int:
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file())


def measure(name: str, text: str | None, tmp: Path) -> dict[str, tuple[float, float]]:
    """Estimate and build one config; return (estimate, real) per quantity."""
    folder = tmp / str(abs(hash(name)))
    folder.mkdir()
    args = ["build", "--out", str(folder / "site"), "-q", "--jobs", "2"]
    config = None
    if text is not None:
        config = folder / "config.toml"
        config.write_text(text)
        args += ["--config", str(config)]
    need = plan_build(BuildOptions(config_path=config, out=folder / "site")).estimate
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, "-c", PROBE, *args, "--max-memory-mb", "100000", "--max-site-mb",
                                 "100000"], stdout=subprocess.DEVNULL, stderr=err, text=True)
        tree = 0
        while proc.poll() is None:
            tree = max(tree, tree_rss(proc.pid))
            time.sleep(0.05)
        err.seek(0)
        stderr = err.read()
    if proc.returncode != 0:
        sys.exit(f"{name}: build failed:\n{stderr}")
    rss = int(stderr.strip().splitlines()[-1])
    results = folder / "site" / "results.json"
    # Frames drawn: each run's, once per drawing (the wide one, and the phone one of a video).
    frames = sum((r["frames"] or 0) * (2 if r["media"]["phone"] else 1) for r in json.loads(results.read_text())["runs"])
    return {"memory (the tree)": (need.memory, tree), "memory (the build process)": (need.memory, rss), "results.json": (need.results, results.stat().st_size),
            "frames": (need.frames, frames), "site": (need.site, site_bytes(folder / "site"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="measure only the config whose name contains this")
    args = parser.parse_args()
    print("| config | quantity | estimate | real | estimate / real |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="bench-estimate-") as tmp:
        for name, text in CONFIGS.items():
            if args.only and args.only not in name:
                continue
            for quantity, (guess, real) in measure(name, text, Path(tmp)).items():
                unit = (lambda v: f"{v:,.0f}") if quantity == "frames" else (lambda v: f"{v / 1e6:,.1f} MB")
                ratio = f"{guess / real:.2f}" if real else "-"
                print(f"| {name} | {quantity} | {unit(guess)} | {unit(real)} | {ratio} |", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
