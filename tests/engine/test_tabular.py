"""Tables as tables really are: categorical columns, missing cells, column roles, statistics of the
training split only, and `prepare_rows` giving exactly the rows training gave."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data import load_dataset
from engine.data.arrays import split_indices
from engine.data.columns import MAX_ONE_HOT, ROLES
from engine.data.tabular import prepare_rows
from engine.errors import UserError
from graphs.project import load_project
from tests.reliability.datafiles import JUNK_CELLS
from tests.reliability.tally import examples

PLANS = ["basic", "pro", "enterprise"]


def write(folder, text: str, name: str = "data.csv") -> dict:
    (folder / name).write_text(text)
    return {"name": "csv", "path": name}


def customers(rows: int = 40, city_levels: int = 20) -> str:
    lines = ["id,age,plan,city,churn"]
    for i in range(rows):
        age = "" if i % 7 == 3 else ("NA" if i % 11 == 5 else str(20 + i % 30))
        plan = "?" if i % 13 == 4 else PLANS[i % 3]
        lines.append(f"c{i},{age},{plan},town{i % city_levels},{'yes' if i % 2 else 'no'}")
    return "\n".join(lines) + "\n"


def load(spec, folder, val_split=0.25, seed=0):
    return load_dataset(spec, folder, val_split=val_split, seed=seed)


def dict_rows(path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_text_columns_become_one_hot_or_codes_by_their_number_of_levels(tmp_path):
    spec = {**write(tmp_path, customers()), "columns": {"id": "ignore"}}
    data = load(spec, tmp_path)
    names = data.feature_names
    assert names[:2] == ["age", "age missing"]
    assert names[2:6] == ["plan=basic", "plan=enterprise", "plan=pro", "plan missing"]
    assert names[6:] == ["city"]  # 20 levels > MAX_ONE_HOT: one integer code
    assert 20 > MAX_ONE_HOT and data.input_shape == (7,)
    one_hot = data.x_train[:, 2:5]
    assert set(one_hot.sum(dim=1).tolist()) == {1.0}  # a missing plan is filled with the most frequent level
    codes = torch.cat([data.x_train[:, 6], data.x_val[:, 6]])
    assert codes.min() >= 0 and codes.max() <= 20 and torch.equal(codes, codes.round())
    assert any("'plan' (3, one-hot)" in note and "'city' (" in note and ", codes)" in note for note in data.notes)


def test_roles_choose_the_encoding_and_take_numbers_as_levels(tmp_path):
    text = "size,grade,y\n" + "".join(f"{i % 3},{['a', 'b'][i % 2]},{i % 2}\n" for i in range(30))
    spec = {**write(tmp_path, text), "columns": {"size": "one_hot", "grade": "codes"}}
    data = load(spec, tmp_path)
    assert data.feature_names == ["size=0", "size=1", "size=2", "grade"]
    spec["columns"] = {"size": "categorical"}
    assert load(spec, tmp_path).feature_names == ["size=0", "size=1", "size=2", "grade=a", "grade=b"]


def test_statistics_come_from_the_training_split_only(tmp_path):
    rows = 40
    text = "v,plan,y\n" + "".join(f"{i * 10},{'rare' if i >= 30 else PLANS[i % 2]},{i % 2}\n" for i in range(rows))
    spec = write(tmp_path, text)
    train, val = split_indices(rows, 0.25, 0)
    data = load(spec, tmp_path)
    values = np.arange(rows) * 10.0
    assert data.normalization["mean"][0] == pytest.approx(values[train].mean())
    assert data.normalization["std"][0] == pytest.approx(values[train].std())
    seen = {"rare" if i >= 30 else PLANS[i % 2] for i in train}
    assert [name for name in data.feature_names if name.startswith("plan=")] == [f"plan={p}" for p in sorted(seen)]
    assert float(data.x_train[:, 0].mean()) == pytest.approx(0.0, abs=1e-5)


def test_a_category_seen_only_in_validation_is_unknown_with_a_note(tmp_path):
    rows = 40
    train, val = split_indices(rows, 0.25, 0)
    plan = ["basic" if i % 2 else "pro" for i in range(rows)]
    plan[int(val[0])] = "platinum"
    spec = write(tmp_path, "plan,y\n" + "".join(f"{p},{i % 2}\n" for i, p in enumerate(plan)))
    data = load(spec, tmp_path)
    assert data.feature_names == ["plan=basic", "plan=pro"]
    assert torch.equal(data.x_val[0], torch.zeros(2))  # all zeros: no level
    assert any("'plan': 1 cells hold a level the training split does not have" in note for note in data.notes)
    codes = load({**spec, "columns": {"plan": "codes"}}, tmp_path)
    assert codes.x_val[0].tolist() == [0.0] and set(codes.x_train[:, 0].tolist()) == {1.0, 2.0}


def test_missing_cells_are_filled_with_training_statistics_and_marked(tmp_path):
    spec = write(tmp_path, "a,b,y\n" + "".join(f"{'' if i in (1, 2) else i},{'NaN' if i == 5 else 1},{i % 2}\n"
                                                for i in range(20)))
    data = load({**spec, "standardize": False}, tmp_path, val_split=0)
    assert data.feature_names == ["a", "a missing", "b", "b missing"]
    mean = np.mean([i for i in range(20) if i not in (1, 2)])
    order, _ = split_indices(20, 0, 0)
    x = data.x_train.numpy()[np.argsort(order)]  # back in the file's order
    assert x[1, 0] == pytest.approx(mean) and x[1, 1] == 1 and x[0, 1] == 0
    assert x[5, 2] == 1 and x[5, 3] == 1
    assert any("'a': 2 of 20 training cells are missing" in note and "training mean" in note for note in data.notes)


def test_a_column_with_no_value_is_left_out_with_a_note(tmp_path):
    spec = write(tmp_path, "a,empty,y\n" + "".join(f"{i},,{i % 2}\n" for i in range(10)))
    data = load(spec, tmp_path)
    assert data.feature_names == ["a"]
    assert any("column 'empty' has no value in the training split, so it is left out" in note for note in data.notes)


@pytest.mark.parametrize("text, message", [
    ("a,y\n1,0\n2,\n3,1\n", "data.csv line 3, column 'y' is empty; fill in the missing value or remove the row"),
    ("a,y\n1,0\n2,1\n3,NA\n", "data.csv line 4, column 'y' is missing ('NA'); every row needs a target"),
    ("a,plan,y\n1,pro,0\n2,,?\n", "data.csv line 3, column 'y' is missing ('?')"),
    ("a,y\n1,0\nx,1\n3,0\n4,1\n", "data.csv line 3, column 'a': 'x' is not a number"),
    ("a,b,a,y\n1,2,3,0\n4,5,6,1\n", "data.csv has two columns named 'a' (columns 1 and 3); give each column its own"),
    ("a,y\nS,0\nM,1\n10,0\nL,1\n", "column 'a' mixes text (line 2: 'S') and numbers (line 4: '10'); give it the role "
                                   "\"categorical\""),
])
def test_bad_cells_name_their_line_and_column(tmp_path, text, message):
    with pytest.raises(UserError) as error:
        load(write(tmp_path, text), tmp_path)
    assert message in str(error.value)


@pytest.mark.parametrize("columns, message", [
    ({"plan ": "ignore"}, "dataset option \"columns\" names column 'plan ', which data.csv does not have; its "
                          "columns are: 'id', 'age', 'plan', 'city', 'churn'"),
    ({"plan": "categoric"}, "gives column 'plan' the role 'categoric', which does not exist; the roles are: feature, "
                            "categorical, one_hot, codes, ignore, target"),
    ({"plan": "target", "city": "target"}, "gives the role \"target\" to 'plan', 'city'; one column is"),
    ({"plan": "feature"}, "data.csv line 2, column 'plan': 'basic' is not a number"),
    (["plan"], "dataset option \"columns\" must map column names to roles"),
])
def test_bad_roles_are_refused_naming_the_column(tmp_path, columns, message):
    with pytest.raises(UserError) as error:
        load({**write(tmp_path, customers()), "columns": {"id": "ignore", **columns} if isinstance(columns, dict)
              else columns}, tmp_path)
    assert message in str(error.value)


def test_the_target_can_be_given_by_role_and_must_agree_with_the_option(tmp_path):
    spec = {**write(tmp_path, customers(city_levels=3)), "columns": {"id": "ignore", "city": "target"}}
    data = load(spec, tmp_path)
    assert data.class_names == ["town0", "town1", "town2"] and "churn=yes" in data.feature_names
    with pytest.raises(UserError, match="\"target\" names column 'churn' but \"columns\" gives the role \"target\" to "
                                        "'city'"):
        load({**spec, "target": "churn"}, tmp_path)


def test_prepare_rows_gives_exactly_the_rows_training_gave(tmp_path):
    spec = {**write(tmp_path, customers(60)), "columns": {"id": "ignore"}}
    data = load(spec, tmp_path)
    train, val = split_indices(60, 0.25, 0)
    x = prepare_rows(data.preprocessing, dict_rows(tmp_path / "data.csv"))
    assert x.dtype == torch.float32 and x.shape == (60, data.input_shape[0])
    assert torch.equal(x[torch.from_numpy(train).long()], data.x_train)
    assert torch.equal(x[torch.from_numpy(val).long()], data.x_val)
    assert data.preprocessing["features"] == data.feature_names
    unseen = prepare_rows(data.preprocessing, [{"id": "new", "age": "", "plan": "gold", "city": "nowhere"}])
    assert unseen.shape == (1, 7) and unseen[0, 1] == 1 and unseen[0, 2:5].sum() == 0 and unseen[0, 6] == 0


def test_prepare_rows_of_a_plain_numeric_table_matches_training(tmp_path):
    spec = write(tmp_path, "a,b,y\n" + "".join(f"{i},{i * i / 7},{i % 3}\n" for i in range(50)))
    data = load(spec, tmp_path, val_split=0.2, seed=3)
    train, _ = split_indices(50, 0.2, 3)
    x = prepare_rows(data.preprocessing, dict_rows(tmp_path / "data.csv"))
    assert torch.equal(x[torch.from_numpy(train).long()], data.x_train)


@pytest.mark.parametrize("rows, message", [
    ([{"a": "1"}], "rows.csv line 2 has no column 'b'; the model needs the columns 'a', 'b'"),
    ([{"a": "1", "b": "2"}, {"a": "x", "b": "2"}], "rows.csv line 3, column 'a': 'x' is not a number"),
    ([{"a": "inf", "b": "2"}], "rows.csv line 2, column 'a': 'inf' is not a finite number"),
])
def test_prepare_rows_names_the_file_line_and_column_of_bad_input(tmp_path, rows, message):
    data = load(write(tmp_path, "a,b,y\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(10))), tmp_path)
    with pytest.raises(UserError) as error:
        prepare_rows(data.preprocessing, rows, file="rows.csv")
    assert message in str(error.value)


def test_prepare_rows_refuses_preprocessing_of_another_kind():
    with pytest.raises(UserError, match="trained on 'images' that is not a table"):
        prepare_rows({"kind": "images", "size": [8, 8]}, [{"a": "1"}])


def test_the_customers_sample_is_generated_once_and_trains_as_a_file_would(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROCANVAS_CACHE", str(tmp_path / "cache"))
    spec = {"name": "csv", "sample": "customers", "columns": {"customer_id": "ignore"}}
    first = load(spec, tmp_path)
    files = list((tmp_path / "cache").rglob("customers.csv"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    again = load(spec, tmp_path)
    assert files[0].stat().st_mtime_ns == stamp and torch.equal(first.x_train, again.x_train)
    assert first.class_names == ["no", "yes"] and "plan=basic" in first.feature_names
    assert any("missing" in note for note in first.notes)
    with pytest.raises(UserError, match="'customer_id': 'C100000' is not a number .*\"ignore\""):
        load({"name": "csv", "sample": "customers"}, tmp_path)
    with pytest.raises(UserError, match='"sample" must be "customers"'):
        load({"name": "csv", "sample": "shoppers"}, tmp_path)
    with pytest.raises(UserError, match='"path" and "sample" both name the data'):
        load({**spec, "path": "x.csv"}, tmp_path)


def test_a_run_stores_the_transform_and_new_rows_get_the_validation_outputs(write_project, tmp_path):
    """Train on a mixed table; the weights' metadata alone turns the file's rows into the inputs the model saw."""
    import json

    from engine.compiler import compile_graph
    from engine.training import Trainer
    from engine.training.checkpoint import read_metadata
    from engine.weights import load_weights

    write(tmp_path, customers(60))
    project = write_project({"name": "csv", "path": "data.csv", "columns": {"id": "ignore"}})
    result = Trainer(project, out_dir=tmp_path / "run", epochs=1).run()
    weights = result.out_dir / "weights.safetensors"
    preprocessing = json.loads(read_metadata(weights)["preprocessing"])
    data = load({"name": "csv", "path": "data.csv", "columns": {"id": "ignore"}}, tmp_path)
    assert preprocessing == json.loads(json.dumps(data.preprocessing))
    model = load_weights(compile_graph(load_project(tmp_path / "run" / "project.json").graph).model, weights).eval()
    _, val = split_indices(60, 0.25, 0)
    rows = [dict_rows(tmp_path / "data.csv")[i] for i in val]
    with torch.no_grad():
        torch.testing.assert_close(model(prepare_rows(preprocessing, rows)), model(data.x_val), rtol=0, atol=0)


def test_a_numeric_table_gives_the_same_inputs_through_either_reader(tmp_path):
    """The plain numeric reader and the mixed-table reader (here because a column is ignored) agree."""
    rng = np.random.default_rng(1)
    values = rng.normal(0, 1000, size=(50, 3)).round(3)
    body = "".join(f"{a},{b},{c},note{i},{i % 2}\n" for i, (a, b, c) in enumerate(values))
    (tmp_path / "plain.csv").write_text("a,b,c,y\n" + "".join(
        ",".join(line.split(",")[:3] + line.split(",")[4:]) for line in body.splitlines(keepends=True)))
    plain = load({"name": "csv", "path": "plain.csv"}, tmp_path)
    mixed = load({**write(tmp_path, "a,b,c,note,y\n" + body), "columns": {"note": "ignore"}}, tmp_path)
    assert plain.feature_names == mixed.feature_names == ["a", "b", "c"]
    torch.testing.assert_close(mixed.x_train, plain.x_train, rtol=0, atol=1e-6)
    np.testing.assert_allclose(mixed.normalization["mean"], plain.normalization["mean"], rtol=1e-12)
    np.testing.assert_allclose(mixed.normalization["std"], plain.normalization["std"], rtol=1e-12)


CELLS = {"number": st.one_of(st.integers(-50, 50).map(str), st.floats(-1e4, 1e4, allow_nan=False).map(repr),
                             st.sampled_from(["", "NA", "?", " 2.5 ", "1_000"])),
         "category": st.one_of(st.sampled_from(["red", "green", "blue", "teal", "", "NA", "?", " red "]),
                               st.integers(0, 40).map(lambda i: f"c{i}"))}


@st.composite
def mixed_tables(draw):
    kinds = draw(st.lists(st.sampled_from(sorted(CELLS)), min_size=1, max_size=4))
    rows = draw(st.integers(8, 40))
    table = [[draw(CELLS[kind]) for kind in kinds] + [str(i % 2)] for i in range(rows)]
    roles = {f"c{j}": draw(st.sampled_from(["categorical", "one_hot", "codes"]))
             for j, kind in enumerate(kinds) if kind == "category"}
    return kinds, table, roles, draw(st.sampled_from([0.0, 0.25, 0.5])), draw(st.integers(0, 3))


@settings(max_examples=examples(40), deadline=None)
@given(case=mixed_tables())
def test_prepare_rows_reproduces_training_on_any_mixed_table(case, tmp_path_factory):
    kinds, table, roles, val_split, seed = case
    folder = tmp_path_factory.mktemp("mixed")
    names = [f"c{j}" for j in range(len(kinds))] + ["y"]
    with open(folder / "data.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([names, *table])
    try:
        data = load({"name": "csv", "path": "data.csv", "columns": roles}, folder, val_split, seed)
    except UserError as error:  # e.g. a column with no value in the training split and nothing else
        assert "data.csv" in str(error)
        return
    x = prepare_rows(data.preprocessing, dict_rows(folder / "data.csv"))
    train, val = split_indices(len(table), val_split, seed)
    assert torch.equal(x[torch.from_numpy(train).long()], data.x_train)
    assert torch.equal(x[torch.from_numpy(val).long()], data.x_val)


def test_a_mixed_table_beyond_memory_is_refused_long_before_its_end(tmp_path, monkeypatch):
    from engine.data import csv_reader, table_reader

    monkeypatch.setattr(csv_reader, "MEMORY_BYTES", 20_000 * 48 // 2)  # room for half of the rows
    monkeypatch.setattr(table_reader, "BLOCK_ROWS", 500)
    spec = write(tmp_path, "a,plan,y\n" + "".join(f"{i},{PLANS[i % 3]},{i % 2}\n" for i in range(20_000)))
    blocks = []
    real = table_reader._add_block
    monkeypatch.setattr(table_reader, "_add_block", lambda *args: (blocks.append(1), real(*args)))
    with pytest.raises(UserError, match="data.csv does not fit in this machine's memory"):
        load(spec, tmp_path)
    assert len(blocks) < 5  # of 40


@settings(max_examples=examples(60), deadline=None)
@given(case=mixed_tables(), junk=st.lists(st.tuples(st.integers(0, 39), st.integers(0, 4), JUNK_CELLS), max_size=3),
       roles=st.dictionaries(st.sampled_from(["c0", "c1", "c9", "y"]), st.sampled_from([*ROLES, "bogus"]), max_size=2))
def test_junk_cells_and_roles_load_or_are_refused_naming_the_file(case, junk, roles, tmp_path_factory):
    kinds, table, _, val_split, seed = case
    for row, column, cell in junk:
        if row < len(table) and column < len(table[row]):
            table[row][column] = cell
    folder = tmp_path_factory.mktemp("junk")
    with open(folder / "data.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([[f"c{j}" for j in range(len(kinds))] + ["y"], *table])
    try:
        data = load({"name": "csv", "path": "data.csv", "columns": roles}, folder, val_split, seed)
    except UserError as error:
        assert "data.csv" in str(error) or '"columns"' in str(error) or "val_split" in str(error), str(error)
        return
    assert data.x_train.dtype == torch.float32 and torch.isfinite(data.x_train).all()
    assert data.preprocessing["features"] == data.feature_names and data.input_shape == (len(data.feature_names),)
