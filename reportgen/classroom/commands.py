"""The teacher's commands: ``reportgen class`` (assignments, key, and with --reveal each student's report) and
``reportgen grade``."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen.classroom.roster import read_roster
from reportgen.classroom.secret import SECRET_ENV, class_secret
from reportgen.config.document import toml_value
from reportgen.config.load import load_config
from reportgen.config.schema import Config
from reportgen.core import languages
from reportgen.infra import output
from reportgen.infra.errors import ConfigError

if TYPE_CHECKING:  # the variants need numpy and torch: imported once a command does work
    from reportgen.classroom.variants import Homework, Variant

log = logging.getLogger("reportgen")


def cmd_class(args: argparse.Namespace) -> int:
    from reportgen.classroom.assign import write_class
    from reportgen.classroom.key import run_class

    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: must be at least 1")
    if args.scheduler and args.executor != "dask":
        raise ConfigError("--scheduler needs --executor dask")
    config = load_config(args.config)
    lang = languages.normalize(args.lang or config.lang)
    if lang is None or lang == "all":
        raise ConfigError(f"--lang {args.lang}: a class is built in one language: en or zh-CN")
    secret = class_secret(config)  # before the roster: the first thing a teacher must set
    students = read_roster(args.roster)
    out: Path = args.out
    output.check_writable(out, "--out")
    run = run_class(config, students, secret)
    written = write_class(run, config, out, lang)
    print(f"Wrote {len(students)} assignments to {out / 'assignments'}, the key to {out / 'key.csv'} and "
          f"{out / 'key.html'} ({len(written)} files). Keep the key and the secret to yourself.")
    if args.reveal:
        reveal(run.variants, run.homework, config, out / "reveal", lang, args.jobs, args.executor, args.scheduler)
        print(f"Wrote each student's report to {out / 'reveal'}/<assignment name>/index.html")
    return 0


def student_config(v: Variant, homework: Homework, config: Config) -> str:
    """The config of one student's own report: their data, and the homework's two sweeps."""
    d = config.defaults.replace(seed=v.seed, slope=v.slope, intercept=v.intercept)
    defaults = "\n".join(f"{k} = {toml_value(x)}" for k, x in d.to_dict().items())
    thresholds = ", ".join(repr(t) for t in homework.thresholds)
    slopes = ", ".join(repr(s) for s in homework.slopes)
    return (f'title = "Your homework: {v.id}"\n\n[defaults]\n{defaults}\n\n'
            f'[[sweep]]\nname = "threshold"\ntitle = "Stop threshold"\nvary = {{ threshold = [{thresholds}] }}\n\n'
            f'[[sweep]]\nname = "slope"\ntitle = "True slope"\nvary = {{ slope = [{slopes}] }}\n\n'
            f'[render]\nformats = [{", ".join(repr(f) for f in config.render.formats)}]\n')


def reveal(variants, homework: Homework, config: Config, out: Path, lang: str, jobs: int | None,
           executor: str = "local", scheduler: str | None = None) -> None:
    """Build each student's full report from their variant: every build shares one cache (the graphs' code, fonts)."""
    from reportgen.build import BuildOptions, build
    from reportgen.classroom.assign import assignment_name

    configs = out / ".configs"
    configs.mkdir(parents=True, exist_ok=True)
    for i, v in enumerate(variants, start=1):
        name = assignment_name(v).removesuffix(".html")
        path = configs / f"{name}.toml"
        output.write_atomic(path, student_config(v, homework, config).encode("utf-8"))
        log.info("report %d of %d: %s", i, len(variants), v.id)
        build(BuildOptions(config_path=path, out=out / name, lang=lang, jobs=jobs or os.cpu_count() or 1,
                           executor=executor, scheduler=scheduler))


def cmd_grade(args: argparse.Namespace) -> int:
    from reportgen.classroom.grade import Tolerance, grade, summary, write_grades

    secret = None
    if args.config is not None or os.environ.get(SECRET_ENV):
        secret = class_secret(load_config(args.config))
    grades = grade(args.key, args.answers, secret, Tolerance(args.iterations, args.values))
    target: Path = args.out or args.answers.with_name("grades.csv")
    if target.exists() and not target.is_file():
        raise ConfigError(f"{target}: exists and is not a file")
    write_grades(grades, target)
    print(f"{summary(grades)}; wrote {target}")
    return 0


def add_commands(sub) -> None:
    """Add ``class`` and ``grade`` to the command line."""
    p = sub.add_parser("class", help="one variant of the homework per student, with the answer key",
                       description="Derive each student's variant from their id under the class secret "
                                   f"([classroom] secret or ${SECRET_ENV}), and write one assignment per student, "
                                   "key.csv and key.html; --reveal also builds each student's own report.")
    p.add_argument("--roster", type=Path, required=True, metavar="CSV", help="the class: an id column, and a name column")
    p.add_argument("--config", type=Path, metavar="FILE", help="TOML config (default: the built-in one)")
    p.add_argument("--out", type=Path, default=Path("outputs/class"), metavar="DIR",
                   help="where the files go (default: outputs/class)")
    p.add_argument("--lang", metavar="LANG", help="en or zh-CN (default: the config's)")
    p.add_argument("--reveal", action="store_true", help="also build each student's full report (after the deadline)")
    p.add_argument("--jobs", type=int, metavar="N", help="render processes for --reveal (default: one per CPU)")
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="where --reveal renders: local processes (default) or a dask.distributed cluster")
    p.add_argument("--scheduler", metavar="ADDRESS", help="the dask scheduler's address for --executor dask")
    p.add_argument("-q", "--quiet", action="store_true", help="print only warnings and errors")
    p.add_argument("-v", "--verbose", action="store_true", help="print debug messages and tracebacks")

    p = sub.add_parser("grade", help="grade the students' answers against the key",
                       description="Compare answers.csv (an id column and the key's answer columns) with key.csv "
                                   "and write grades.csv.")
    p.add_argument("answers", type=Path, metavar="ANSWERS_CSV")
    p.add_argument("--key", type=Path, required=True, metavar="KEY_CSV")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help=f"the class's config, to check the key's secret (or set ${SECRET_ENV})")
    p.add_argument("--out", type=Path, metavar="FILE", help="where to write the grades (default: grades.csv beside the answers)")
    p.add_argument("--iterations", type=int, default=1, metavar="N", help="how far a stop iteration may be off (default: 1)")
    p.add_argument("--values", type=float, default=0.01, metavar="X", help="how far w and b may be off (default: 0.01)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only warnings and errors")
