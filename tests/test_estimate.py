"""The resource estimate: budgets refused before any work, raised by [limits] or a flag, --dry-run, thinned histories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reportgen.build import build
from reportgen.cli import main
from reportgen.estimate import plan_build
from reportgen.infra.options import CACHE_DIR, BuildOptions

#: The issue's runaway: 500 runs of a million iterations each, training only.
HUGE = """
[defaults]
max_iters = 1000000
[[sweep]]
name = "big"
vary = {{ seed = {seeds}, slope = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0] }}
animate = "{animate}"
"""


def huge(tmp_path: Path, animate: str = "none", extra: str = "") -> Path:
    path = tmp_path / "huge.toml"
    path.write_text(HUGE.format(seeds=list(range(50)), animate=animate) + extra)
    return path


def test_a_runaway_config_is_refused_before_any_work_one_line_per_budget(tmp_path, capsys):
    config, out = huge(tmp_path, animate="all"), tmp_path / "site"
    assert main(["build", "--config", str(config), "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(": ")[3] for line in lines] == ["limits.max_memory_mb", "limits.max_frames", "limits.max_site_mb"]
    memory = lines[0]
    assert memory.startswith(f"reportgen: error: {config}: limits.max_memory_mb: peak memory estimated at up to ")
    assert "over the budget of 2,000 MB" in memory and "[limits] max_memory_mb" in memory and "--max-memory-mb" in memory
    # Every run's frames, drawn twice: wide, and upright for a phone.
    assert "1,000,001,000 frames, over the budget of 100,000 frames" in lines[1] and "--max-frames" in lines[1]
    assert not out.exists() and not (tmp_path / CACHE_DIR).exists()


def test_flags_and_the_limits_table_raise_the_budgets(tmp_path, capsys):
    config = huge(tmp_path)
    args = ["build", "--config", str(config), "--out", str(tmp_path / "site"), "--dry-run"]
    assert main(args) == 2
    assert main([*args, "--max-memory-mb", "20000"]) == 0
    assert main(["build", "--config", str(huge(tmp_path, extra="[limits]\nmax_memory_mb = 20000\n")),
                 "--out", str(tmp_path / "site"), "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert err.count("limits.max_memory_mb") == 1  # only the first build was refused
    assert not (tmp_path / "site").exists()


def test_dry_run_prints_the_estimate_and_does_nothing_else(tmp_path):
    probe = ("import sys; from reportgen.cli import main; code = main(sys.argv[1:]);"
             "print('torch' in sys.modules, 'matplotlib' in sys.modules); sys.exit(code)")
    out = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-c", probe, "build", "--out", str(out), "--dry-run"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "Estimate for built-in config (nothing was built):"
    assert any(line.strip().startswith("peak memory: up to") for line in lines)
    assert any(line.strip().startswith("frames to draw: up to") for line in lines)
    assert lines[-1] == "False False"  # neither torch nor matplotlib
    assert list(tmp_path.iterdir()) == []


def test_verbose_shows_the_estimate(tiny, tmp_path, capsys):
    from conftest import copy_project

    project = copy_project(tiny, tmp_path / "copy")
    assert main(["build", "--config", str(project.config), "--out", str(project.site), "-v"]) == 0
    err = capsys.readouterr().err
    assert "reportgen: estimate: peak memory: up to" in err and "reportgen: estimate: the site: up to" in err


def test_the_estimate_bounds_what_the_tiny_project_made(tiny):
    need = plan_build(tiny.options()).estimate
    results = tiny.site / "results.json"
    site = sum(p.stat().st_size for p in tiny.site.rglob("*") if p.is_file())
    frames = sum(run["frames"] or 0 for run in tiny.runs.values())
    assert need.runs == len(tiny.runs) and need.history_points == 130
    assert results.stat().st_size <= need.results <= 3 * results.stat().st_size
    assert frames <= need.frames
    assert site <= need.site <= 5 * site


LONG = """
[defaults]
max_iters = 301
threshold = 0.0
lr = 0.001
[[sweep]]
name = "long"
vary = { slope = [1.0, 2.0] }
animate = "none"
[render]
formats = []
"""


def test_long_histories_are_thinned_evenly_with_their_ends_and_the_file_says_so(tmp_path):
    (tmp_path / "c.toml").write_text(LONG + "[limits]\nhistory_points = 51\n")
    options = BuildOptions(config_path=tmp_path / "c.toml", out=tmp_path / "site", jobs=1)
    build(options)
    document = json.loads((tmp_path / "site" / "results.json").read_text())
    assert document["history"]["max_points"] == 51 and document["history"]["thinned_runs"] == 2
    assert "evenly spaced" in document["history"]["note"]
    # The same runs with room for every value (the training comes from the cache).
    build(BuildOptions(config_path=tmp_path / "c.toml", out=tmp_path / "site", jobs=1,
                       limits={"history_points": 1000}))
    whole = {r["id"]: r for r in json.loads((tmp_path / "site" / "results.json").read_text())["runs"]}
    for run in document["runs"]:
        iterations = run["loss_history_iterations"]
        assert len(run["loss_history"]) == len(iterations) == 51
        assert iterations[0] == 0 and iterations[-1] == run["iterations_run"] - 1 == 300
        assert set(np.diff(iterations)) == {6}  # evenly spaced: 300 / 50
        full = whole[run["id"]]
        assert full["loss_history_iterations"] is None and len(full["loss_history"]) == 301
        assert run["loss_history"] == [full["loss_history"][i] for i in iterations]


def test_a_big_grid_keeps_fewer_values_per_run_as_its_estimate_says(tmp_path):
    """[limits] history_total: the runs together keep about that many loss values, each at least 100."""
    from reportgen.config.grid import expand_grid
    from reportgen.config.load import parse_config
    from reportgen.config.schema import Limits
    from reportgen.estimate import estimate

    for total, per_run in ((300, 150), (10, 100), (10**6, 301)):  # two runs of 301 iterations
        (tmp_path / "c.toml").write_text(LONG + f"[limits]\nhistory_total = {total}\n")
        config = parse_config((tmp_path / "c.toml").read_text())
        build(BuildOptions(config_path=tmp_path / "c.toml", out=tmp_path / "site", jobs=1))
        document = json.loads((tmp_path / "site" / "results.json").read_text())
        assert [len(run["loss_history"]) for run in document["runs"]] == [per_run] * 2, total
        assert document["history"]["max_points"] == min(10_000, max(100, total // 2))  # what a run may keep
        assert estimate(config, expand_grid(config)).history_points == per_run
    # 10,000 runs of 1,000 iterations would keep 10 million values (137 MB of JSON): they keep 100 each.
    assert Limits().history_per_run(10_000) == 100 and Limits(history_total=10**7).history_per_run(10_000) == 1000
    assert Limits(history_points=50).history_per_run(1) == 50  # never more than history_points


@pytest.mark.parametrize("points, expected", [(2, [0, 300]), (3, [0, 150, 300]), (301, None), (400, None)])
def test_history_indices(points, expected):
    from reportgen.site.results import history_indices

    kept = history_indices(301, points)
    assert (kept is None and expected is None) or kept.tolist() == expected


def test_a_huge_grid_is_refused_from_its_list_lengths_in_well_under_a_second(tmp_path, capsys):
    import time

    from reportgen.cli import main

    lists = {key: ", ".join(str(v) for v in values) for key, values in
             {"slope": [float(i) for i in range(1, 101)], "lr": [1e-4 * i for i in range(1, 101)],
              "threshold": [0.01 * i for i in range(1, 101)], "seed": list(range(1, 101))}.items()}
    (tmp_path / "huge.toml").write_text('[[sweep]]\nname = "huge"\nvary = { ' +
                                        ", ".join(f"{k} = [{v}]" for k, v in lists.items()) + " }\n")
    assert (tmp_path / "huge.toml").stat().st_size < 4000  # a few KB of config
    start = time.perf_counter()
    assert main(["build", "--config", str(tmp_path / "huge.toml"), "--out", str(tmp_path / "site"), "--dry-run"]) == 2
    assert time.perf_counter() - start < 5  # it was a MemoryError after 21 s; a second here, on a busy machine
    err = capsys.readouterr().err
    assert "100,000,000 runs need at least" in err and "--max-memory-mb" in err and "Traceback" not in err


def test_minibatch_runs_count_their_second_loss_history(tmp_path):
    from conftest import build_project

    from reportgen.config.grid import expand_grid
    from reportgen.config.load import parse_config
    from reportgen.estimate import estimate

    text = ("[defaults]\nthreshold = 0.0\nmax_iters = 300\nstandardize = true\n[render]\nformats = []\n"
            "[[sweep]]\nname = \"b\"\nvary = { batch_size = [BATCHES], lr = [0.05, 0.1] }\nanimate = \"none\"\n")
    full, mini = (parse_config(text.replace("BATCHES", b)) for b in ("0", "4"))
    plain, batched = (estimate(c, expand_grid(c)) for c in (full, mini))
    assert batched.memory > plain.memory and batched.results > plain.results
    site = build_project(tmp_path, text.replace("BATCHES", "4")).site
    doc = json.loads((site / "results.json").read_text())
    assert all(len(r["full_loss_history"]) == 300 for r in doc["runs"])
    assert (site / "results.json").stat().st_size <= batched.results


def test_dry_run_says_how_long_training_and_rendering_take_at_most():
    from reportgen.config.grid import expand_grid
    from reportgen.config.load import parse_config
    from reportgen.estimate import describe, estimate

    config = parse_config("[defaults]\nmax_iters = 1000000\nthreshold = 0.0\n[render]\nformats = []\n"
                          "[[sweep]]\nname = \"s\"\nvary = { lr = [0.01] }\nanimate = \"none\"\n")
    need = estimate(config, expand_grid(config))
    # 100,000 iterations of one run took 12.45 s here: a million, about two minutes, and nothing to render.
    assert 100 < need.train_seconds < 300 and need.render_seconds == 0
    assert f"time, cold: up to {round(need.train_seconds)} s training and 0.0 s rendering" in describe(need, config.limits)[-1]


def test_memory_counts_the_render_workers_and_their_frames():
    from reportgen.config.grid import expand_grid
    from reportgen.config.load import parse_config
    from reportgen.estimate import estimate

    text = "[render]\ndpi = DPI\n[[sweep]]\nname = \"s\"\nvary = { slope = [1.0, 3.0] }\n"
    small, large = (parse_config(text.replace("DPI", d)) for d in ("100", "300"))
    one, two, four, many = (estimate(small, expand_grid(small), jobs=j).memory for j in (1, 2, 4, 8))
    assert one < two < four == many  # two animations, each drawn wide and for a phone: never more than four workers
    no_phone = parse_config(text.replace("DPI", "100\nphone = false"))
    assert estimate(no_phone, expand_grid(no_phone), jobs=8).memory == two  # two drawings, two workers
    # Measured (the whole process tree's peak RSS, 2 workers): 813 MB at dpi 100, 2,419 MB at dpi 300; with the
    # phone drawings too, 817 MB and 2,136-2,358 MB.
    assert 813e6 < two < 1_100e6
    assert 2_419e6 < estimate(large, expand_grid(large), jobs=2).memory < 2_800e6


def test_by_default_the_workers_are_as_many_as_the_memory_budget_leaves_room_for(monkeypatch):
    import os

    from reportgen.config.grid import expand_grid
    from reportgen.config.load import load_config
    from reportgen.estimate import describe, estimate

    monkeypatch.setattr(os, "cpu_count", lambda: 32)  # a big machine: 21 animations could take 21 workers
    config = load_config()
    need = estimate(config, expand_grid(config))
    assert 1 < need.workers < 21 and need.memory <= config.limits.max_memory_mb * 1e6
    assert f"rendering on {need.workers} jobs" in describe(need, config.limits)[-1]
    assert estimate(config, expand_grid(config), jobs=21).workers == 21  # --jobs is taken as given
