"""The command line: a real build of a tiny project, exit codes and messages."""

from __future__ import annotations

import ctypes
import gc
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from reportgen.cli import main
from reportgen.config.load import load_config
from reportgen.infra.process import GC_THRESHOLDS, HEAP_ENVIRONMENT, batch_job

TINY = """
title = "Tiny"
[defaults]
max_iters = 200
[[sweep]]
name = "thr"
vary = { threshold = [10.0, 1.0, 0.1] }
[[sweep]]
name = "lr"
vary = { lr = [0.01, 0.07] }
[render]
formats = []
"""


def test_results_json_has_every_field(tiny):
    doc = json.loads((tiny.site / "results.json").read_text())
    assert doc["schema"] == 4 and doc["history"]["thinned_runs"] == 0
    assert doc["config"]["title"] == "Tiny project" and doc["config"]["defaults"]["max_iters"] == 130
    runs = {r["id"]: r for r in doc["runs"]}
    assert list(runs)[:5] == ["thr__threshold-10", "thr__threshold-1", "thr__threshold-0.1", "lr__lr-0.01", "lr__lr-0.07"]
    for run in runs.values():
        for key in ("id", "sweep", "params", "status", "stop_iteration", "iterations_run", "diverged_at",
                    "final", "loss_floor", "hessian_eigenvalues", "condition_number", "lr_max",
                    "predicted_stop_iteration", "loss_history"):
            assert key in run, key
        assert set(run["params"]) == {"slope", "intercept", "threshold", "lr", "max_iters", "seed",
                                      "n_points", "noise", "x_max", "optimizer", "momentum", "beta1", "beta2", "eps",
                                      "standardize", "batch_size"}
        assert len(run["loss_history"]) == run["iterations_run"] and run["loss_history_iterations"] is None
        assert run["full_loss_history"] is None  # every point in every step: loss_history is the whole loss
    assert runs["thr__threshold-10"]["stop_iteration"] == 0
    # "final" is one state: the last iteration's w and b, and the loss at exactly those values.
    for run in runs.values():
        final, (hww, hwb), (_, hbb) = run["final"], *run["hessian"]
        assert final["iteration"] == run["iterations_run"] - 1 and final["loss"] == run["loss_history"][-1]
        if run["status"] != "diverged":
            dw, db = final["w"] - run["w_star"], final["b"] - run["b_star"]
            loss = run["loss_floor"] + 0.5 * (hww * dw * dw + 2 * hwb * dw * db + hbb * db * db)
            assert loss == pytest.approx(final["loss"], rel=2e-5), run["id"]
        assert set(run["after_last_update"]) == {"w", "b"}
    assert runs["thr__threshold-0.1"]["status"] == "budget_exhausted"
    assert runs["thr__threshold-0.1"]["iterations_run"] == 130
    assert runs["lr__lr-0.07"]["status"] == "diverged"
    assert runs["lr__lr-0.07"]["stop_iteration"] is None
    assert isinstance(runs["lr__lr-0.07"]["diverged_at"], int)


def test_index_lists_the_runs(tiny):
    html = tiny.html
    assert html.count('<article class="run" id="run-') == len(tiny.runs) == 12  # a card per run, #run-<id>
    assert "budget exhausted" in html and "diverged" in html


def test_bad_config_exits_2_with_one_line_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace("max_iters = 200", "max_iter = 200"))
    out = tmp_path / "site"
    proc = run_cli("build", "--config", str(bad), "--out", str(out))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"reportgen: error: {bad}: defaults.max_iter: unknown key; did you mean 'max_iters'?"
    assert "Traceback" not in proc.stderr
    assert not out.exists()  # nothing written


def test_missing_config_and_bad_flags_exit_2(tmp_path):
    proc = run_cli("build", "--config", str(tmp_path / "nope.toml"))
    assert proc.returncode == 2 and "config file not found" in proc.stderr
    proc = run_cli("build", "--jobs", "zero")
    assert proc.returncode == 2 and "--jobs" in proc.stderr and "Traceback" not in proc.stderr


def test_refuses_to_replace_a_folder_it_did_not_make(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("keep me")
    (tmp_path / "tiny.toml").write_text(TINY)
    assert main(["build", "--config", str(tmp_path / "tiny.toml"), "--out", str(precious), "-q"]) == 2
    assert (precious / "thesis.txt").read_text() == "keep me"
    assert sorted(p.name for p in precious.iterdir()) == ["thesis.txt"]


def test_rebuild_replaces_its_own_site(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY)
    args = ["build", "--config", str(tmp_path / "tiny.toml"), "--out", str(tmp_path / "site"), "-q"]
    assert main(args) == 0
    (tmp_path / "site" / "stale.txt").write_text("old")
    assert main(args) == 0
    assert not (tmp_path / "site" / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []  # no staging left


def test_init_writes_a_config_that_builds_the_default(tmp_path):
    path = tmp_path / "mine.toml"
    assert main(["init", str(path)]) == 0
    assert "# " in path.read_text()  # commented
    text = path.read_text()
    assert "# " in text and "[defaults]" in text and "[render]" in text
    # Every option is written with its default and its doc, from the schema.
    from reportgen.config.schema import Params, options_of

    for f in options_of(Params):
        assert f"\n{f.name} = " in text and f.metadata["doc"] in text
    config = load_config(path)
    assert config.defaults == Params() and len(config.sweeps) == 7 and not config.builtin
    assert main(["init", str(path)]) == 2  # refuses to overwrite
    assert main(["init", str(path), "--force"]) == 0


def test_python_dash_m_and_help():
    proc = subprocess.run([sys.executable, "-m", "reportgen", "build", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "--no-cache" in proc.stdout and "--jobs" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "reportgen", "init", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0


def test_plain_log_lines_when_not_a_terminal(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY)
    proc = run_cli("build", "--config", str(tmp_path / "tiny.toml"), "--out", str(tmp_path / "site"))
    assert proc.returncode == 0
    assert "reportgen: training 5 runs together on cpu: done in" in proc.stderr
    assert "\r" not in proc.stderr  # no progress bar redraws in a log
    assert f"Site: {tmp_path / 'site' / 'index.html'}" in proc.stdout
    quiet = run_cli("build", "--config", str(tmp_path / "tiny.toml"), "--out", str(tmp_path / "site"), "-q")
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reportgen", *args], capture_output=True, text=True, cwd=Path(__file__).parent)


@pytest.mark.parametrize("argv, message", [
    (["--history-points", "1"], "--history-points: must be between 2 and 1000000000, got 1"),  # the config's rule
    (["--scheduler", "tcp://127.0.0.1:8786"], "--scheduler tcp://127.0.0.1:8786: renders through dask only; add "
                                              "--executor dask"),
])
def test_flags_follow_the_configs_rules_in_one_line(tmp_path, capsys, argv, message):
    try:
        code = main(["build", "--out", str(tmp_path / "site"), *argv])
        lines = 1
    except SystemExit as exc:  # argparse: its usage, then the error on the last line
        code, lines = exc.code, 99
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) <= lines and message in err[-1], err


def test_other_libraries_logs_and_warnings_show_only_with_verbose(capsys):
    import logging
    import warnings

    from reportgen.cli import _setup_logging

    for verbose in (False, True):
        _setup_logging(quiet=False, verbose=verbose)
        logging.getLogger("distributed.scheduler").info("Closing scheduler")
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # each time, not once per place
            warnings.warn("overflow encountered in power", RuntimeWarning)
        logging.getLogger("reportgen").info("rendering 2 animations")
        err = capsys.readouterr().err
        assert "rendering 2 animations" in err
        assert ("Closing scheduler" in err) == verbose and ("overflow" in err) == verbose, (verbose, err)
    _setup_logging(quiet=False, verbose=False)


def test_the_command_builds_as_a_batch_job():
    """`python -m reportgen` runs main() with the batch job's garbage collector and heap, and exits with its code
    (here: 2, a bad flag). On glibc, an 8 MiB block then comes from the heap, not from a mapping of its own;
    where the C library has no mallinfo2 (not glibc, or older than 2.33) the heap is not looked at."""
    probe = ("import ctypes, gc, sys, reportgen.cli as cli; from reportgen.infra import process; real = cli.main\n"
             "class Info(ctypes.Structure): _fields_ = [(n, ctypes.c_size_t) for n in 'arena ordblks smblks hblks "
             "hblkhd usmblks fsmblks uordblks fordblks keepcost'.split()]\n"
             "libc = ctypes.CDLL(None); libc.malloc.restype = ctypes.c_void_p\n"
             "def mapped():\n"
             "    if not hasattr(libc, 'mallinfo2'): return 'n/a'\n"
             "    libc.mallinfo2.restype = Info\n"
             "    before = libc.mallinfo2().hblkhd; block = libc.malloc(8 << 20); after = libc.mallinfo2().hblkhd\n"
             "    libc.free(ctypes.c_void_p(block)); return after > before\n"
             "def probe():\n"
             "    print(gc.get_threshold() == process.GC_THRESHOLDS, mapped(), file=sys.stderr)\n"
             "    return real()\n"
             "cli.main = probe; cli.run()")
    env = {k: v for k, v in os.environ.items() if k not in HEAP_ENVIRONMENT and k != "GLIBC_TUNABLES"}
    done = subprocess.run([sys.executable, "-c", probe, "build", "--no-such-flag"], capture_output=True, text=True,
                          env=env)
    assert done.returncode == 2 and done.stderr.split("\n")[0] in ("True False", "True n/a"), done.stderr
    if platform.libc_ver()[0] == "glibc" and hasattr(ctypes.CDLL(None), "mallinfo2"):
        assert done.stderr.startswith("True False\n"), done.stderr


def test_a_user_s_own_malloc_settings_are_left_as_they_are(monkeypatch):
    """MALLOC_*_ in the environment: batch_job leaves glibc's heap to them (and still sets the collector)."""
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    monkeypatch.setattr(gc, "set_threshold", lambda *t: calls.append(t))
    calls: list = []
    assert batch_job() is False and calls == [GC_THRESHOLDS]
