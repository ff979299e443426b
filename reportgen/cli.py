"""The ``reportgen`` command line: build, serve, clean, init; and for teachers, class and grade."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import signal
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from reportgen import __version__
from reportgen.config.document import default_config_text
from reportgen.config.schema import Limits, limit_flag, options_of
from reportgen.core.formatting import MB, megabytes
from reportgen.infra import output, stamp
from reportgen.infra.cache import Cache
from reportgen.infra.errors import (
    BuildInterrupted,
    ConfigError,
    ReportgenError,
    disk_errors,
    stop_on_signals,
)
from reportgen.infra.options import DEFAULT_MAX_MB, DEFAULT_OUT, BuildOptions, cache_dir
from reportgen.infra.process import batch_job
from reportgen.infra.progress import Progress

# The build itself (numpy, Jinja2, and torch and matplotlib when something must be made) is imported only once
# the command line knows a build is needed: a site that is up to date is reported without it.

if TYPE_CHECKING:
    from reportgen.build import BuildReport

log = logging.getLogger("reportgen")


def _limit(option: dataclasses.Field) -> Callable[[str], int]:
    """The type of a [limits] option's flag: a whole number its own check accepts (one rule for flag and config)."""
    def parse(text: str) -> int:
        value = _positive_int(text)
        problem = option.metadata["check"](value) if option.metadata["check"] else None
        if problem:
            raise argparse.ArgumentTypeError(f"{problem}, got {value}")
        return value
    return parse


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _megabytes(text: str) -> float:
    try:
        value = float(text.removesuffix("MB").strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size in megabytes, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def make_parser() -> argparse.ArgumentParser:
    """Return the argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="reportgen",
        description="Train linear regressions over a parameter grid and publish an animated static report.",
    )
    parser.add_argument("--version", action="version", version=f"reportgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("build", help="train the grid and write the site", description="Train every run of the config's grid and write the static site.")
    p.add_argument("--config", type=Path, metavar="FILE", help="TOML config (default: the built-in course homework)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR", help=f"site folder (default: {DEFAULT_OUT})")
    p.add_argument("--jobs", type=_positive_int, metavar="N", help="parallel render workers (default: CPU count)")
    p.add_argument("--no-cache", action="store_true", help="ignore cached results and media; rebuild everything")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="train on the CPU (default) or a CUDA GPU")
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="render on local processes (default) or a dask.distributed cluster (pip install 'reportgen[dask]')")
    p.add_argument("--scheduler", metavar="ADDRESS", help="dask scheduler address; without it --executor dask starts a LocalCluster")
    # Checked by build() (one line and exit 2 for an unknown language), not by argparse's usage dump.
    p.add_argument("--lang", metavar="LANG",
                   help="language of the report: en, zh-CN, or all (each in <out>/<lang>/); default: the config's lang, else en")
    p.add_argument("--single-file", type=Path, metavar="FILE",
                   help="also write the page as one self-contained HTML file (with --lang all: FILE's name plus .<lang>)")
    p.add_argument("--max-size", type=_megabytes, default=DEFAULT_MAX_MB, metavar="MB",
                   help=f"refuse a single file above this many megabytes of 10^6 bytes (default: {DEFAULT_MAX_MB:g})")
    p.add_argument("--pdf", type=Path, metavar="FILE",
                   help="also print the page to PDF through Chromium (pip install 'reportgen[pdf]')")
    p.add_argument("--force", action="store_true",
                   help="build even when nothing changed since the last build (cached runs and media are still used)")
    p.add_argument("--dry-run", action="store_true",
                   help="print what the build would need (memory, results.json, frames, site) and stop")
    limits = p.add_argument_group("budgets", "raise a [limits] option of the config for this build")
    for f in options_of(Limits):
        limits.add_argument(limit_flag(f.name), dest=f"limit_{f.name}", type=_limit(f), metavar="N",
                            help=f"{f.metadata['doc']} Default: {f.default:,}.")
    p.add_argument("-q", "--quiet", action="store_true", help="print only warnings and errors")
    p.add_argument("-v", "--verbose", action="store_true", help="print debug messages, the estimate and tracebacks")

    p = sub.add_parser("serve", help="preview the built site on http://127.0.0.1", description="Serve the built site locally for a preview.")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR", help=f"site folder (default: {DEFAULT_OUT})")
    p.add_argument("--port", type=int, default=8000, metavar="N", help="port (default: 8000; 0 picks a free one)")

    p = sub.add_parser("clean", help="remove the build cache", description=(
        "Remove the build cache beside the site folder (the site itself stays). Builds also prune it: "
        "see [cache] in the config."))
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR", help=f"site folder (default: {DEFAULT_OUT})")

    p = sub.add_parser("init", help="write a commented copy of the default config", description="Write a commented copy of the built-in config to edit.")
    p.add_argument("path", nargs="?", type=Path, default=Path("reportgen.toml"), help="where to write it (default: reportgen.toml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")

    from reportgen.classroom.commands import add_commands

    add_commands(sub)
    return parser


def _setup_logging(quiet: bool, verbose: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, format="reportgen: %(message)s", stream=sys.stderr, force=True)
    # A library's log (dask's "Closing scheduler", torch's cache stats) or warning (numpy's overflow, matplotlib's
    # font fallback) is not the user's business: it shows with -v only, and never with reportgen's prefix otherwise.
    logging.captureWarnings(False)  # again from scratch, should something have put its own showwarning back
    logging.captureWarnings(True)
    if not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(lambda record: record.name == "reportgen" or record.name.startswith("reportgen."))


def cmd_build(args: argparse.Namespace) -> int:
    limits = {f.name: getattr(args, f"limit_{f.name}") for f in options_of(Limits)}
    options = BuildOptions(config_path=args.config, out=args.out, jobs=args.jobs, use_cache=not args.no_cache,
                           device=args.device, executor=args.executor, scheduler=args.scheduler, lang=args.lang,
                           single_file=args.single_file, max_size_mb=args.max_size, pdf=args.pdf,
                           limits={k: v for k, v in limits.items() if v is not None})
    if args.dry_run:
        from reportgen.estimate import check_budgets, describe, plan_build

        plan = plan_build(options)
        print(f"Estimate for {plan.config.source} (nothing was built):")
        for line in describe(plan.estimate, plan.config.limits):
            print(f"  {line}")
        check_budgets(plan.config, plan.estimate, plan.config.limits)
        return 0
    fresh = None if args.force else stamp.up_to_date(options)
    if fresh is not None:
        if not args.quiet:
            print("Up to date: nothing changed since the last build (--force builds it again).")
        print_outputs(fresh, args.quiet)
        return 0

    from reportgen.build import build

    report = build(options, Progress(quiet=args.quiet))
    counts: dict[str, int] = {}
    for r in report.results:
        counts[r.trajectory.status] = counts.get(r.trajectory.status, 0) + 1
    summary = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted(counts.items()))
    if not args.quiet:
        print(f"Built {len(report.results)} runs ({summary}).")
    print_outputs(report, args.quiet)
    return 0


def print_outputs(built: BuildReport | stamp.UpToDate, quiet: bool) -> None:
    """Print where the site, the single files and the PDFs are."""
    if not quiet:
        print(f"Site: {built.index}")
    for path, size in built.single_files:  # the size is the point of the flag: printed even with -q
        print(f"Single file: {path} ({megabytes(size)})")
    for path, pages in built.pdfs:
        print(f"PDF: {path} ({pages} pages, {megabytes(path.stat().st_size)})")


def cmd_serve(args: argparse.Namespace) -> int:
    import functools
    import http.server

    from reportgen.site.serve import SiteHandler

    index = args.out / "index.html"
    if not index.is_file():
        raise ConfigError(f"{args.out}: no built site here; run 'reportgen build --out {args.out}' first")
    handler = functools.partial(SiteHandler, directory=str(args.out))
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: must be between 0 and 65535 (0 picks a free one)")
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    except OSError as exc:
        raise ConfigError(f"--port {args.port}: cannot listen: {exc.strerror}") from None
    print(f"Serving {args.out} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    out = args.out.resolve()
    cache = Cache(cache_dir(out))
    if not cache.root.exists():
        print(f"No cache to remove: {cache.root} does not exist.")
        return 0
    with output.build_lock(out.parent), disk_errors():
        freed = cache.clear()
    print(f"Removed the cache {cache.root} ({freed / MB:,.1f} MB).")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    path: Path = args.path
    if path.exists() and not args.force:
        raise ConfigError(f"{path}: already exists; pass --force to overwrite it")
    if path.exists() and path.is_dir():
        raise ConfigError(f"{path}: is a folder; give a file name")
    output.check_regular("init", path)
    try:
        output.write_atomic(path, default_config_text().encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror}") from None
    print(f"Wrote {path}. Build it with: reportgen build --config {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = make_parser().parse_args(argv)
    _setup_logging(getattr(args, "quiet", False), getattr(args, "verbose", False))
    from reportgen.classroom.commands import cmd_class, cmd_grade

    command = {"build": cmd_build, "serve": cmd_serve, "init": cmd_init, "clean": cmd_clean, "class": cmd_class,
               "grade": cmd_grade}[args.command]
    try:
        with stop_on_signals():
            return command(args)
    except ReportgenError as exc:
        if getattr(args, "verbose", False) and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__, file=sys.stderr)
        for problem in exc.problems:
            print(f"reportgen: error: {problem}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, BuildInterrupted) else signal.SIGINT
        print(f"reportgen: interrupted by {signal.Signals(signum).name}; the previous site is untouched", file=sys.stderr)
        return 128 + signum


def run() -> None:
    """Be the ``reportgen`` command: :func:`main` in a process of its own, tuned as a batch job (its garbage
    collector and its heap: :func:`~reportgen.infra.process.batch_job`).

    At exit, nothing is collected any more: the process's memory goes back to the system whole, and a last pass
    over a big build's objects (0.5 s for 10,000 runs) would free nothing sooner.
    """
    batch_job()
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
