"""The streamed, column-wise CSV reader: the fast path (pyarrow) and the exact path (Python's csv
module) agree on every file, blocks and growth keep rows and lines right, progress is told,
and the options (`delimiter`, `task`) say what a person needs to know."""

from __future__ import annotations

import json
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, note, settings

from engine.data import csv_reader, load_dataset, progress, tabular
from engine.data.fit import fit_dataset
from engine.data.options import Options
from engine.errors import UserError
from tests.reliability.datafiles import csv_files
from tests.reliability.tally import examples


def read(folder, spec, progress=None):
    return tabular.load_csv(Options(spec, tabular.ACCEPTED, folder), progress)


def write(folder, text: str | bytes, name: str = "data.csv") -> dict:
    path = folder / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return {"name": "csv", "path": name}


def exact_only():
    """The fast path declines every file, so the exact path reads it."""
    def decline(*_args, **_kwargs):
        raise csv_reader._Unsure
    return mock.patch.object(csv_reader, "read_fast", decline)


def outcome(folder, spec):
    """What loading gives: the arrays and decisions, or the error message."""
    try:
        data = read(folder, spec)
    except UserError as error:
        return str(error)
    return data.x.tobytes(), data.x.shape, data.y.tobytes(), data.y.dtype, data.task, data.class_names, \
        data.feature_names, data.notes


@settings(max_examples=examples(150), deadline=None)
@given(case=csv_files())
def test_the_fast_and_the_exact_path_agree_on_any_file(case, tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv")
    case.write(folder)
    note(f"{case.spec} {case.notes}")
    fast = outcome(folder, case.spec)
    with exact_only():
        exact = outcome(folder, case.spec)
    assert fast == exact


def test_a_plain_numeric_file_and_text_labels_take_the_fast_path(tmp_path):
    numeric = write(tmp_path, "a,b,y\n" + "".join(f"{i},{i / 3},{i % 2}\n" for i in range(100)))
    labels = write(tmp_path, "a,b,y\n" + "".join(f"{i},{i / 3},{'cat dog'.split()[i % 2]}\n" for i in range(100)),
                   "labels.csv")
    with mock.patch.object(csv_reader, "read_exact", side_effect=AssertionError("the exact path was used")):
        data = read(tmp_path, numeric)
        assert data.x.dtype == np.float32 and data.x.shape == (100, 2) and data.task == "classification"
        np.testing.assert_allclose(data.x[:, 1], np.arange(100, dtype=np.float32) / 3, rtol=1e-7)
        assert read(tmp_path, labels).class_names == ["cat", "dog"]


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of about 200 bytes and arrays that start at 4 rows (as when the address space is short),
    so a small file crosses many blocks and the arrays grow many times."""
    monkeypatch.setattr(csv_reader, "BLOCK_BYTES", 200)
    monkeypatch.setattr(csv_reader, "BLOCK_ROWS", 7)
    monkeypatch.setattr(csv_reader.Columns, "empty",
                        classmethod(lambda cls, features, _size: cls(np.empty((4, features), np.float32))))


def table_text(rows: int, label=lambda i: str(i % 3)) -> str:
    return "f0,f1,y\n" + "".join(f"{i},{i * 0.25},{label(i)}\n" for i in range(rows))


def test_the_arrays_have_room_for_any_file_and_keep_none_of_it(tmp_path):
    spec = write(tmp_path, "a,y\n" + "1,2\n" * 100 + "3,4")  # the shortest rows a file can hold
    data = read(tmp_path, spec)
    assert data.x.shape == (101, 1) and data.x.base is None and data.x[-1, 0] == 3


def test_rows_cross_blocks_and_growth_intact(tmp_path, small_blocks):
    spec = write(tmp_path, table_text(1000))
    data = read(tmp_path, spec)
    np.testing.assert_array_equal(data.x[:, 0], np.arange(1000, dtype=np.float32))
    np.testing.assert_array_equal(data.y, np.arange(1000) % 3)
    fast = outcome(tmp_path, spec)
    with exact_only():
        assert outcome(tmp_path, spec) == fast


@pytest.mark.parametrize("damage, message", [
    (lambda lines: lines.__setitem__(900, "899,abc,1"), "data.csv line 901, column 'f1': 'abc' is not a number"),
    (lambda lines: lines.__setitem__(950, "949,1e39,1"), "line 951, column 'f1': '1e39' is beyond float32's range"),
    (lambda lines: lines.__setitem__(700, "699,1,cat"), "column 'y' mixes numbers (line 2: '0') and text (line 701: 'cat')"),
    (lambda lines: lines.__setitem__(999, "998,1"), "data.csv line 1000 has 2 fields but the header has 3"),
    (lambda lines: lines.insert(500, "  "), None),  # a blank-looking line is skipped, the file loads
])
def test_a_problem_deep_in_the_file_names_its_line(tmp_path, small_blocks, damage, message):
    lines = table_text(1000).splitlines()
    damage(lines)
    spec = write(tmp_path, "\n".join(lines) + "\n")
    if message is None:
        assert read(tmp_path, spec).x.shape == (1000, 2)
        return
    with pytest.raises(UserError) as error:
        read(tmp_path, spec)
    assert message in str(error.value)


def test_numbers_only_python_reads_load_through_the_exact_path(tmp_path):
    data = read(tmp_path, write(tmp_path, "a,b,y\n1_000, 2.5 ,1\n\u0662,3,2\n4,5,1\n"))
    np.testing.assert_array_equal(data.x, np.array([[1000, 2.5], [2, 3], [4, 5]], dtype=np.float32))


def test_progress_is_told_from_zero_to_the_whole_file_at_a_bounded_rate(tmp_path, small_blocks, monkeypatch):
    spec = write(tmp_path, table_text(3000))
    size = (tmp_path / "data.csv").stat().st_size
    for exact in (False, True):
        for seconds in (0.0, 3600.0):  # every block may be told, or only the first and the last call
            monkeypatch.setattr(progress, "PROGRESS_SECONDS", seconds)
            calls = []
            with exact_only() if exact else mock.patch.object(csv_reader, "BLOCK_ROWS", 7):
                read(tmp_path, spec, lambda done, total, calls=calls: calls.append((done, total)))
            assert calls[0] == (0, size) and calls[-1] == (size, size)
            assert all(total == size for _, total in calls)
            assert [done for done, _ in calls] == sorted(done for done, _ in calls)
            assert len(calls) > 50 if seconds == 0 else len(calls) == 2


def test_progress_reaches_the_caller_of_load_dataset(tmp_path):
    spec = write(tmp_path, table_text(50))
    calls = []
    load_dataset(spec, tmp_path, 0.2, 0, progress=lambda done, total: calls.append((done, total)))
    size = (tmp_path / "data.csv").stat().st_size
    assert calls[0] == (0, size) and calls[-1] == (size, size)


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_one_column_that_holds_another_delimiter_suggests_the_option(tmp_path, delimiter):
    spec = write(tmp_path, table_text(20).replace(",", delimiter))
    with pytest.raises(UserError) as error:
        read(tmp_path, spec)
    assert "needs at least two columns" in str(error.value)
    assert f'set "delimiter": {json.dumps(delimiter)} in the dataset' in str(error.value)
    data = read(tmp_path, {**spec, "delimiter": delimiter})
    assert data.feature_names == ["f0", "f1"] and data.x.shape == (20, 2)


def test_one_column_without_another_delimiter_says_only_what_is_wrong(tmp_path):
    with pytest.raises(UserError) as error:
        read(tmp_path, write(tmp_path, "value\n1\n2\n"))
    assert str(error.value) == "data.csv needs at least two columns: features and a target"


def test_whole_number_labels_one_per_row_name_the_task_option(tmp_path):
    spec = write(tmp_path, "a,label\n" + "".join(f"{i * 0.5},{i}\n" for i in range(1000)))
    data = load_dataset(spec, tmp_path, 0.2, 0)
    assert data.task == "regression"
    (message,) = data.notes
    assert "1,000 different whole numbers in 1,000 rows" in message and '"task": "classification"' in message
    classes = load_dataset({**spec, "task": "classification"}, tmp_path, 0.2, 0)
    assert classes.task == "classification" and classes.num_classes == 1000 and not classes.notes
    assert not load_dataset({**spec, "task": "regression"}, tmp_path, 0.2, 0).notes


def test_a_class_index_target_over_regression_data_names_the_task_option(tmp_path, write_project):
    from engine.compiler import compile_graph
    from engine.data import fill_shapes

    spec = write(tmp_path, "a,label\n" + "".join(f"{i * 0.5},{i}\n" for i in range(200)))
    data = load_dataset(spec, tmp_path, 0.2, 0)
    shapeless = write_project(spec, classes=200, target_params={"dtype": "int64"})
    with pytest.raises(UserError) as error:  # before its shape is taken from the data
        fill_shapes(shapeless.graph, data)
    assert "MSELoss" in str(error.value) and '"task": "classification" in the dataset' in str(error.value)
    declared = write_project(spec, classes=200, target_params={"dtype": "int64", "shape": []})
    with pytest.raises(UserError) as error:
        fit_dataset(data, compile_graph(fill_shapes(declared.graph, data)))
    assert "MSELoss" in str(error.value) and '"task": "classification" in the dataset' in str(error.value)


@pytest.mark.parametrize("exact", [False, True])
def test_a_table_beyond_memory_is_refused_before_it_is_read_whole(tmp_path, monkeypatch, exact):
    monkeypatch.setattr(csv_reader, "MEMORY_BYTES", 2000)  # room for 125 rows of 2 features and a target
    with exact_only() if exact else mock.patch.object(csv_reader, "BLOCK_ROWS", 4096), \
            pytest.raises(UserError, match="data.csv does not fit in this machine's memory"):
        read(tmp_path, write(tmp_path, table_text(1000)))


def test_a_table_beyond_memory_is_refused_long_before_its_end(tmp_path, small_blocks, monkeypatch):
    """The rows read so far, extrapolated to the file, tell early; the arrays never fill memory.
    (pyarrow reads some 40 blocks ahead, so the fast path can tell only that much later.)"""
    monkeypatch.setattr(csv_reader, "MEMORY_BYTES", 5000 * 16 // 2)  # room for half of the 5000 rows
    spec = write(tmp_path, table_text(5000))
    real_add = csv_reader.Columns.add
    for exact, most in ((True, 100), (False, 100)):
        added = []
        monkeypatch.setattr(csv_reader.Columns, "add",
                            lambda self, *a, added=added, **k: (added.append(1), real_add(self, *a, **k)))
        with exact_only() if exact else mock.patch.object(csv_reader, "BLOCK_ROWS", 7), \
                pytest.raises(UserError, match="does not fit in this machine's memory"):
            read(tmp_path, spec)
        assert len(added) < most  # of 715 blocks of 7 rows (exact), about 450 of 200 bytes (fast)


def test_a_text_column_of_ids_is_refused_with_the_roles_that_would_take_it(tmp_path):
    """A text column with a different value in every row is a name or an id, not a category (a column of
    a few levels is one: see tests/engine/test_tabular.py)."""
    with pytest.raises(UserError, match=r"'x0' is not a number \(the whole column holds text, a different value in "
                                        r"nearly every row.*\"ignore\""):
        read(tmp_path, write(tmp_path, "name,y\n" + "".join(f"x{i},1\n" for i in range(30))))
    with pytest.raises(UserError) as error:
        read(tmp_path, write(tmp_path, "name,y\nx,1\n2,1\n3,1\n"))
    assert str(error.value) == "data.csv line 2, column 'name': 'x' is not a number"
