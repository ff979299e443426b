"""A class of students: assignments and key for the whole class, and each student's own report (--reveal).

Targets (issue: classroom): a class of 40 builds its assignments in <= 1 min and its reveal in <= 10 min on
2 cores. The reveal builds one full report per student; it is measured on REVEALED students and projected to
the class, since every student's report is the same work on other data.

    python benchmarks/bench_class.py [--students 40] [--revealed 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from reportgen.classroom.assign import write_class
from reportgen.classroom.commands import reveal
from reportgen.classroom.key import run_class
from reportgen.classroom.roster import Student
from reportgen.config.load import load_config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--revealed", type=int, default=3)
    args = parser.parse_args()
    config = load_config()
    students = [Student(f"s{i:03d}", f"Student {i}") for i in range(args.students)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "class"
        start = time.perf_counter()
        run = run_class(config, students, "benchmark secret")
        trained = time.perf_counter() - start
        written = write_class(run, config, out, "en")
        assign = time.perf_counter() - start
        sizes = [p.stat().st_size for p in written if p.parent.name == "assignments"]
        print(f"class of {args.students}: trained {len(students) * 8} runs together in {trained:.1f} s; "
              f"assignments and key in {assign:.1f} s (target <= 60 s); largest assignment {max(sizes) / 1000:.0f} KB")
        start = time.perf_counter()
        reveal(run.variants[: args.revealed], run.homework, config, out / "reveal", "en", os.cpu_count())
        per = (time.perf_counter() - start) / args.revealed
        print(f"reveal: {per:.1f} s per student, measured on {args.revealed}; projected for {args.students}: "
              f"{per * args.students / 60:.1f} min (target <= 10 min)")


if __name__ == "__main__":
    main()
