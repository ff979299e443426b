"""The build cache: no pickle, tampered entries rebuilt and never run, pruning, `reportgen clean`."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_project

from reportgen.build import build

PACKAGE = Path(__file__).resolve().parent.parent / "reportgen"


class Payload:
    """Unpickling this creates a file: proof that a loader ran code from the cache."""

    marker: Path

    def __reduce__(self):
        return open, (str(self.marker), "w")


def rehash(entry: Path) -> None:
    """Record the entry's current files in its meta.json, as a hostile writer of the cache folder would."""
    meta = json.loads((entry / "meta.json").read_text())
    for name in meta["files"]:
        data = (entry / name).read_bytes()
        meta["files"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (entry / "meta.json").write_text(json.dumps(meta))


def only_entry(cache: Path, kind: str) -> Path:
    entries = [p for p in (cache / kind).iterdir() if (p / "meta.json").exists()]
    assert len(entries) == 1, entries
    return entries[0]


def test_no_pickle_in_the_package():
    for path in PACKAGE.rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+(c?pickle|marshal|shelve|dill|cloudpickle)\b", path.read_text(), re.M), path


def test_the_cache_holds_only_npz_json_and_media(tiny):
    suffixes = {p.suffix for p in tiny.cache.rglob("*") if p.is_file()}
    assert suffixes <= {".npz", ".json", ".svg", ".html", ".gif", ".mp4", ".png", ".jpg", ".webp", ".woff2", ".TAG"}, suffixes
    npz = only_entry(tiny.cache, "train") / "runs.npz"
    with np.load(npz, allow_pickle=False) as arrays:  # would raise on an object array
        assert {arrays[name].dtype.kind for name in arrays.files} <= {"f", "i"}


@pytest.fixture
def project(tiny, tmp_path):
    return copy_project(tiny, tmp_path / "copy")


def rebuilt(project, caplog) -> tuple[bool, list[str]]:
    """Build again; return whether it trained, and the warnings about damaged entries."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="reportgen"):
        report = build(project.options())
    assert json.loads((project.site / "results.json").read_text())["runs"] == list(project.runs.values())
    return report.trained, [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]


def test_a_pickle_planted_in_the_npz_is_never_loaded(project, tmp_path, caplog):
    entry = only_entry(project.cache, "train")
    Payload.marker = tmp_path / "pwned"
    with np.load(entry / "runs.npz") as arrays:
        saved = {name: arrays[name] for name in arrays.files}
    saved["loss"] = np.array([Payload()], dtype=object)
    with open(entry / "runs.npz", "wb") as fp:
        np.savez(fp, **saved)  # np.savez pickles the object array
    rehash(entry)
    trained, warnings = rebuilt(project, caplog)
    assert trained and len(warnings) == 1 and "pickle" in warnings[0].lower()
    assert not Payload.marker.exists()


@pytest.mark.parametrize("damage", ["flipped byte", "bad status", "extra field", "wrong run", "short array",
                                    "bool for int", "text for float", "short tuple", "short column"])
def test_a_damaged_training_entry_is_rebuilt(project, caplog, damage):
    entry = only_entry(project.cache, "train")
    meta = json.loads((entry / "meta.json").read_text())
    if damage == "flipped byte":
        data = bytearray((entry / "runs.npz").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (entry / "runs.npz").write_bytes(bytes(data))
    elif damage == "short array":
        with np.load(entry / "runs.npz") as arrays:
            saved = {name: arrays[name] for name in arrays.files}
        saved["w"] = saved["w"][:-1]
        np.savez(entry / "runs.npz", **saved)
        rehash(entry)
    else:  # the runs' JSON: a list per field of each table (data, trajectory, analysis), a value per run
        runs = meta["runs"]
        if damage == "bad status":
            runs["trajectory"]["status"][1] = "exploded"
        elif damage == "extra field":
            runs["analysis"]["__class__"] = ["os.system"] * len(runs["analysis"]["w_star"])
        elif damage == "bool for int":
            runs["trajectory"]["stop_iteration"][1] = True
        elif damage == "text for float":
            runs["analysis"]["lr_max"][1] = "0.5"
        elif damage == "short tuple":
            runs["analysis"]["hessian"][1][0] = [1.0]
        elif damage == "short column":
            runs["analysis"]["w_star"].pop()
        else:  # a run missing: the ids alone are only a note (a renamed sweep keeps its entry, see below)
            for table in runs.values():
                for column in table.values():
                    column.pop()
        (entry / "meta.json").write_text(json.dumps(meta))
    trained, warnings = rebuilt(project, caplog)
    assert trained and len(warnings) == 1, warnings
    trained, warnings = rebuilt(project, caplog)
    assert not trained and warnings == []  # the rebuilt entry is whole again


def test_a_damaged_graph_entry_is_rebuilt(project, caplog):
    entry = only_entry(project.cache, "graphs")
    document = json.loads((entry / "data.json").read_text())
    document["autograd"]["nodes"][0]["kind"] = {"py/object": "os.system"}
    (entry / "data.json").write_text(json.dumps(document))
    rehash(entry)
    _, warnings = rebuilt(project, caplog)
    assert len(warnings) == 1 and "graphs/" in warnings[0]
    assert json.loads((entry / "data.json").read_text())["autograd"]["nodes"][0]["kind"] != {"py/object": "os.system"}


# --------------------------------------------------------------------------- bounds


def training_only(slope: float, cache: str = "", runs: int = 2, iterations: int = 100) -> str:
    return f"""
[defaults]
slope = {slope}
max_iters = {iterations}
threshold = 0.0
[[sweep]]
name = "s"
vary = {{ seed = {list(range(runs))} }}
[render]
formats = []
{cache}"""


def build_with(folder: Path, text: str) -> None:
    from reportgen.build import BuildOptions

    (folder / "c.toml").write_text(text)
    build(BuildOptions(config_path=folder / "c.toml", out=folder / "site", jobs=1))


def train_entries(folder: Path) -> list[str]:
    from reportgen.infra.options import CACHE_DIR

    return sorted(p.name for p in (folder / CACHE_DIR / "train").iterdir())


def test_entries_no_build_used_for_keep_builds_builds_are_pruned(tmp_path):
    keep = "[cache]\nkeep_builds = 2\n"
    build_with(tmp_path, training_only(1, cache=keep))
    (first,) = train_entries(tmp_path)
    build_with(tmp_path, training_only(2, cache=keep))
    assert first in train_entries(tmp_path) and len(train_entries(tmp_path)) == 2  # unused for one build only
    build_with(tmp_path, training_only(2, cache=keep))
    assert first not in train_entries(tmp_path) and len(train_entries(tmp_path)) == 1
    build_with(tmp_path, training_only(1, cache=keep))  # needed again: trained again
    assert first in train_entries(tmp_path)


def test_the_least_recently_used_entries_go_beyond_the_size_cap(tmp_path):
    # Each config's training entry is 500 runs x 400 iterations x 3 float32 arrays: 2.4 MB.
    cap = "[cache]\nmax_mb = 3\n"
    build_with(tmp_path, training_only(1, cap, runs=500, iterations=400))
    (first,) = train_entries(tmp_path)
    build_with(tmp_path, training_only(2, cap, runs=500, iterations=400))
    (second,) = train_entries(tmp_path)
    assert second != first
    # A cap below what one build needs keeps all of that build's entries.
    build_with(tmp_path, training_only(3, "[cache]\nmax_mb = 1\n", runs=500, iterations=400))
    assert len(train_entries(tmp_path)) == 1 and second not in train_entries(tmp_path)
    usage = json.loads((tmp_path / ".reportgen-cache" / "usage.json").read_text())
    assert usage["builds"] == 3 and all(b == 3 for b in usage["last_used"].values())


def test_an_old_pickle_is_never_loaded_and_pruned_in_time(tmp_path):
    Payload.marker = tmp_path / "pwned"
    build_with(tmp_path, training_only(1, cache="[cache]\nkeep_builds = 2\n"))
    import pickle  # only to plant what an older reportgen wrote

    old = tmp_path / ".reportgen-cache" / "train" / f"{'0' * 24}.pickle"
    old.write_bytes(pickle.dumps(Payload()))
    for _ in range(3):  # first seen by the next build, then unused by two
        build_with(tmp_path, training_only(1, cache="[cache]\nkeep_builds = 2\n"))
    assert not old.exists() and not Payload.marker.exists()


def test_clean_removes_the_cache_and_keeps_the_site(tiny, tmp_path, capsys):
    from reportgen.cli import main

    project = copy_project(tiny, tmp_path / "copy")
    site = {p: p.read_bytes() for p in project.site.rglob("*") if p.is_file()}
    assert main(["clean", "--out", str(project.site)]) == 0
    assert not project.cache.exists()
    assert capsys.readouterr().out.startswith(f"Removed the cache {project.cache} (")
    assert {p: p.read_bytes() for p in project.site.rglob("*") if p.is_file()} == site
    assert main(["clean", "--out", str(project.site)]) == 0
    assert "No cache to remove" in capsys.readouterr().out


def test_clean_refuses_a_folder_that_is_not_a_cache(tmp_path, capsys):
    from reportgen.cli import main
    from reportgen.infra.options import CACHE_DIR

    (tmp_path / CACHE_DIR).mkdir()
    (tmp_path / CACHE_DIR / "thesis.txt").write_text("keep me")
    assert main(["clean", "--out", str(tmp_path / "site")]) == 2
    assert "does not look like reportgen's cache" in capsys.readouterr().err
    assert (tmp_path / CACHE_DIR / "thesis.txt").read_text() == "keep me"


def test_a_renamed_sweep_finds_its_training_in_the_cache_and_nothing_is_called_damaged(tmp_path, caplog):
    from reportgen.build import BuildOptions

    config = 'title = "r"\n[defaults]\nmax_iters = 30\n[[sweep]]\nname = "{name}"\nvary = {{ slope = [1.0, 2.0] }}\n' \
             '[render]\nformats = []\n'
    (tmp_path / "c.toml").write_text(config.format(name="before"))
    options = BuildOptions(config_path=tmp_path / "c.toml", out=tmp_path / "site", jobs=1)
    assert build(options).trained
    (tmp_path / "c.toml").write_text(config.format(name="after"))
    caplog.clear()
    with caplog.at_level("INFO", logger="reportgen"):
        report = build(options)
    assert not report.trained and [r.id for r in report.results] == ["after__slope-1", "after__slope-2"]
    assert "damaged" not in caplog.text and "training: 2 runs from the cache" in caplog.text


def test_a_tampered_listing_or_figure_is_rebuilt_not_published(project, caplog):
    """A file entry carries its SHA-256: a meta refresh appended to a cached listing never reaches the page."""
    listing = next((project.cache / "listings").glob("*.html"))
    figure = next((project.cache / "figures").glob("*.svg"))
    listing.write_bytes(listing.read_bytes() + b'<meta http-equiv="refresh" content="0;url=https://example.org/">')
    figure.write_bytes(figure.read_bytes()[:-40])  # cut short
    _, warnings = rebuilt(project, caplog)
    assert len(warnings) == 2 and any("listings/" in w for w in warnings) and any("figures/" in w for w in warnings)
    assert "refresh" not in (project.site / "index.html").read_text()
    assert b"refresh" not in listing.read_bytes()  # made again, whole
    _, warnings = rebuilt(project, caplog)
    assert warnings == []
