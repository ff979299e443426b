"""Shared fixtures: the built-in config, its trained runs, and one tiny real project built once per test run.

The tiny project is built once for all xdist workers: the first worker to ask
builds it under a file lock in the run's shared temporary folder, the others
wait for it and read it. Session fixtures are never changed by a test. A test
that must damage or rebuild a project copies it first (:func:`copy_project`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from reportgen.build import BuildOptions, build
from reportgen.config.grid import expand_grid
from reportgen.config.load import load_config
from reportgen.infra.options import CACHE_DIR
from reportgen.infra.process import batch_job
from reportgen.train.run import RunResult


def pytest_configure(config):
    """Tune this process as the reportgen command does (cli.run): the builds made here in process run as it runs them."""
    batch_job()


#: The tiny project: one run of every ending, a 2-D sweep, both formats, small frames.
TINY = """
title = "Tiny project"
[defaults]
max_iters = 130
[[sweep]]
name = "thr"
title = "Thresholds"
vary = { threshold = [10.0, 1.0, 0.1] }
[[sweep]]
name = "lr"
vary = { lr = [0.01, 0.07] }
[[sweep]]
name = "slope"
vary = { slope = [5.0] }
[[sweep]]
name = "grid"
vary = { slope = [1.0, 3.0, 5.0], lr = [0.05, 0.057] }
animate = "none"
[render]
dpi = 40
"""
#: Builds of the tiny project are reproducible: this date is on every page.
EPOCH = "1700000000"


@dataclass(frozen=True)
class Project:
    """A built project: its config, its site, what the build reported, and results.json by run id."""

    root: Path
    config: Path
    site: Path
    runs: dict[str, dict]

    @property
    def html(self) -> str:
        return (self.site / "index.html").read_text("utf-8")

    @property
    def cache(self) -> Path:
        return self.root / CACHE_DIR

    def options(self, **changes) -> BuildOptions:
        return BuildOptions(**{"config_path": self.config, "out": self.site, "jobs": 1, **changes})


def read_runs(site: Path) -> dict[str, dict]:
    """results.json of a site (one language, or the English folder of several), by run id."""
    results = site / "results.json" if (site / "results.json").exists() else site / "en" / "results.json"
    return {r["id"]: r for r in json.loads(results.read_text())["runs"]}


def build_project(root: Path, text: str, **options) -> Project:
    """Write ``text`` as root/project.toml and build it into root/site (one job: the workers fill the cores)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "project.toml").write_text(text, "utf-8")
    site = root / "site"
    build(BuildOptions(config_path=root / "project.toml", out=site, **{"jobs": 1, **options}))
    return Project(root, root / "project.toml", site, read_runs(site))


def copy_project(project: Project, root: Path) -> Project:
    """Copy a project (config, site and cache) to ``root``, for a test that changes it."""
    shutil.copytree(project.root, root, symlinks=True)
    return Project(root, root / "project.toml", root / "site", project.runs)


def shared_once(tmp_path_factory, name: str, make) -> Path:
    """``make(folder)`` once for the whole test run, whichever xdist worker asks first; the folder it filled."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, above each worker's own
    folder = shared / f"shared-{name}"
    with FileLock(str(folder) + ".lock"):
        if not (folder / "done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            (folder / "done").touch()
    return folder


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Project:
    """The tiny project, built once for the run, in English, under SOURCE_DATE_EPOCH."""
    def make(root: Path) -> None:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("SOURCE_DATE_EPOCH", EPOCH)
            build_project(root, TINY, jobs=2)  # the other worker waits for it

    root = shared_once(tmp_path_factory, "tiny", make)
    return Project(root, root / "project.toml", root / "site", read_runs(root / "site"))


@pytest.fixture(scope="session")
def tiny_both(tiny, tmp_path_factory) -> Project:
    """The tiny project in every language (--lang all), built once beside the English one: its training is reused."""
    def make(folder: Path) -> None:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("SOURCE_DATE_EPOCH", EPOCH)
            build(BuildOptions(config_path=tiny.config, out=tiny.root / "both", jobs=2, lang="all"))

    shared_once(tmp_path_factory, "tiny-both", make)
    out = tiny.root / "both"
    return Project(tiny.root, tiny.config, out, read_runs(out))


@pytest.fixture(scope="session")
def default_config():
    return load_config()


@pytest.fixture(scope="session")
def default_specs(default_config):
    return expand_grid(default_config)


@pytest.fixture(scope="session")
def default_runs(default_specs) -> dict[str, RunResult]:
    """Every run of the built-in config, trained and analysed, by id."""
    from reportgen.train.analysis import analyse
    from reportgen.train.batched import draw_data, train_grid

    data = draw_data(default_specs)
    trajectories = train_grid(default_specs, data)
    return {s.id: RunResult(s, d, t, analyse(d, s.params)) for s, d, t in zip(default_specs, data, trajectories)}


def start_build(config: Path, out: Path, *extra: str) -> subprocess.Popen:
    """Start ``reportgen build`` in a process group of its own (so a test can kill all of it), jobs 2."""
    return subprocess.Popen(
        [sys.executable, "-m", "reportgen", "build", "--config", str(config), "--out", str(out), "--jobs", "2", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def wait_for(predicate, timeout: float = 120.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def wait_for_session_end(proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Wait until no process of the session ``start_build`` gave ``proc`` is left (render workers included)."""
    def ended() -> bool:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(ended, timeout)
