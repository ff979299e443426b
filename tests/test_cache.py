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
    for path in PACKAGE.glob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+(c?pickle|marshal|shelve|dill|cloudpickle)\b", path.read_text(), re.M), path


def test_the_cache_holds_only_npz_json_and_media(tiny):
    suffixes = {p.suffix for p in tiny.cache.rglob("*") if p.is_file()}
    assert suffixes <= {".npz", ".json", ".svg", ".html", ".gif", ".mp4", ".png", ".TAG"}, suffixes
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


@pytest.mark.parametrize("damage", ["flipped byte", "bad status", "extra field", "wrong run", "short array"])
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
    else:
        run = meta["runs"][1]
        if damage == "bad status":
            run["trajectory"]["status"] = "exploded"
        elif damage == "extra field":
            run["analysis"]["__class__"] = "os.system"
        else:
            run["id"] = "thr__threshold-99"
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
