"""The column store of the cache's JSON: dataclasses of one class as a list per field, checked a column at a time."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportgen.infra.codec import SchemaError, columns, decode_columns
from reportgen.train.run import Status

finite = st.floats(allow_nan=False, allow_infinity=False)


@dataclass(frozen=True)
class Row:
    status: Status
    count: int | None
    value: float
    pair: tuple[float, float]
    grid: tuple[tuple[float, float], tuple[float, float]]
    name: str
    curve: np.ndarray


rows = st.builds(Row, st.sampled_from(Status), st.none() | st.integers(-10**12, 10**12), finite,
                 st.tuples(finite, finite), st.tuples(st.tuples(finite, finite), st.tuples(finite, finite)),
                 st.text(max_size=5), st.just(np.zeros(0)))


@given(st.lists(rows, max_size=6))
def test_rows_come_back_through_json_as_they_went(values):
    stored = json.loads(json.dumps(columns(Row, values)))
    back = decode_columns(Row, stored, len(values), [{"curve": v.curve} for v in values])
    assert [(type(v.status), v) for v in back] == [(Status, v) for v in values]


@pytest.mark.parametrize("field, bad", [("count", True), ("count", 1.5), ("value", "1"), ("value", None),
                                        ("value", 10**400),
                                        ("pair", [1.0]), ("pair", [1.0, "x"]), ("grid", [[1.0, 2.0], [3.0]]),
                                        ("status", "exploded"), ("name", 3)])
def test_a_value_of_the_wrong_type_is_refused(field, bad):
    good = Row(Status.STOPPED, 3, 1.0, (1.0, 2.0), ((1.0, 2.0), (3.0, 4.0)), "a", np.zeros(0))
    stored = json.loads(json.dumps(columns(Row, [good, good])))
    stored[field][1] = bad
    with pytest.raises(SchemaError, match=f"Row.{field}"):
        decode_columns(Row, stored, 2, [{"curve": good.curve}] * 2)


def test_a_whole_number_is_read_as_a_float_where_a_float_is_due():
    stored = {"status": ["stopped"], "count": [None], "value": [2], "pair": [[1, 2.5]], "grid": [[[1, 2], [3, 4]]],
              "name": ["a"]}
    (row,) = decode_columns(Row, stored, 1, [{"curve": np.zeros(0)}])
    assert type(row.value) is float and [type(v) for v in row.pair] == [float, float]
