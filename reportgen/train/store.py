"""Trained runs in the cache: their arrays in one .npz, everything else in JSON; nothing is pickled.

Every run's x and y (one value per data point) and loss, w and b (one per
iteration) are stored end to end, one array each, and cut back into runs by the
lengths stored beside them. The rest is stored in columns, a JSON list per field,
checked a column at a time when read. Reading needs numpy only, never torch.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from reportgen.config.grid import RunSpec
from reportgen.infra.cache import Cache
from reportgen.infra.codec import SchemaError, columns, decode_columns
from reportgen.train.run import Analysis, RunData, RunResult, Trajectory

KIND = "train"
SCHEMA = 3  # 2: full_loss, a minibatch run's loss over all its points; 3: the JSON in columns, a list per field
ARRAYS = "runs.npz"
PER_POINT = ("x", "y")
PER_ITERATION = ("loss", "w", "b")
PER_MINIBATCH = ("full_loss",)  # per iteration of a minibatch run, empty for the others
#: What a run is made of besides its spec, by its field of RunResult: each stored as a JSON table of columns.
TABLES = {"data": RunData, "trajectory": Trajectory, "analysis": Analysis}


def store_runs(cache: Cache, key: str, results: Sequence[RunResult]) -> None:
    """Store trained and analysed runs as cache entry ``key``."""
    def write(folder: Path) -> dict[str, Any]:
        arrays: dict[str, Callable[[], np.ndarray]] = {
            "lengths": lambda: np.array([[len(r.data.x), r.trajectory.iterations_run, len(r.trajectory.full_loss)]
                                         for r in results], np.int64)}
        for name in PER_POINT:
            arrays[name] = lambda name=name: np.concatenate([getattr(r.data, name) for r in results])
        for name in (*PER_ITERATION, *PER_MINIBATCH):
            arrays[name] = lambda name=name: np.concatenate([getattr(r.trajectory, name) for r in results])
        write_npz(folder / ARRAYS, arrays)
        return {"schema": SCHEMA, "ids": [r.id for r in results],
                "runs": {name: columns(cls, [getattr(r, name) for r in results]) for name, cls in TABLES.items()}}

    cache.store(KIND, key, write)


def load_runs(cache: Cache, key: str, specs: Sequence[RunSpec]) -> list[RunResult] | None:
    """Return the runs of ``specs`` from cache entry ``key``, or None for a miss or an entry that fails its checks."""
    meta = cache.lookup(key, ("schema", "runs"), kind=KIND)
    if meta is None:
        return None
    try:
        return _decode(meta, cache.entry_dir(key, KIND) / ARRAYS, specs)
    except (SchemaError, ValueError, OSError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        cache.damaged(KIND, key, exc)
        return None


def write_npz(path: Path, arrays: dict[str, Callable[[], np.ndarray]]) -> None:
    """Write an .npz one array at a time, so that only one of them is in memory at once."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, make in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fp:
                np.lib.format.write_array(fp, make(), allow_pickle=False)


def _decode(meta: dict[str, Any], path: Path, specs: Sequence[RunSpec]) -> list[RunResult]:
    """Rebuild the runs from checked arrays and JSON; raise SchemaError at the first thing out of place."""
    runs = meta["runs"]
    if meta["schema"] != SCHEMA or not isinstance(runs, dict) or set(runs) != set(TABLES):
        raise SchemaError("not this version's runs")
    with np.load(path, allow_pickle=False) as npz:
        if sorted(npz.files) != sorted(("lengths", *PER_POINT, *PER_ITERATION, *PER_MINIBATCH)):
            raise SchemaError(f"{ARRAYS} holds {sorted(npz.files)}")
        arrays = {name: npz[name] for name in npz.files}
    lengths = arrays.pop("lengths")
    if lengths.dtype != np.int64 or lengths.shape != (len(specs), 3) or (lengths[:, :2] < 1).any() \
            or not ((lengths[:, 2] == 0) | (lengths[:, 2] == lengths[:, 1])).all():
        raise SchemaError("bad lengths")
    for name, array in arrays.items():
        column = 0 if name in PER_POINT else 2 if name in PER_MINIBATCH else 1
        if array.dtype != np.float32 or array.shape != (int(lengths[:, column].sum()),):
            raise SchemaError(f"{name}: {array.dtype} {array.shape} does not match the lengths")
    if lengths[:, 0].tolist() != [spec.params.n_points for spec in specs]:
        raise SchemaError("the data points per run are not the specs'")
    ends = np.cumsum(lengths, axis=0)
    cuts = [{name: arrays[name][ends[i, c] - lengths[i, c]: ends[i, c]]
             for c, names in enumerate((PER_POINT, PER_ITERATION, PER_MINIBATCH)) for name in names}
            for i in range(len(specs))]
    n = len(specs)
    # The entry is keyed by the runs' parameters, which decide training: a sweep renamed since (its runs' ids
    # changed) finds the same runs here, trained already. The stored ids are only a note.
    tables = {name: decode_columns(cls, runs[name], n, cuts) for name, cls in TABLES.items()}
    return [RunResult(spec=s, data=d, trajectory=t, analysis=a)
            for s, d, t, a in zip(specs, tables["data"], tables["trajectory"], tables["analysis"])]
