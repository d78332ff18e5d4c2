"""The Data panel's column roles: shown for a CSV file, each change one undoable edit that the Input
shape follows, saved in the project, and what loading decided (categories, missing cells) said there."""

import json

import pytest

from tests.workbench.test_settings_panels import choose

PLANS = ["basic", "pro", "enterprise"]


@pytest.fixture
def table_panel(open_example, qtbot, dialogs, tmp_path):
    """The Data panel of the iris example switched to a customers CSV (an id column, a number column with
    missing cells, a category of 3 levels), loaded as far as the id column lets it."""
    path = tmp_path / "customers.csv"
    path.write_text("id,age,plan,churn\n" + "".join(
        f"c{i},{'' if i % 6 == 1 else 20 + i % 40},{PLANS[i % 3]},{'yes' if i % 2 else 'no'}\n" for i in range(60)))
    bench = open_example("iris_mlp")
    bench.show_dock("data")
    panel = bench.data_panel
    qtbot.waitUntil(lambda: panel.preview is not None, timeout=60_000)
    choose(panel.source, "csv")
    qtbot.waitUntil(lambda: bench.settings.training["dataset"] == {"name": "csv"}, timeout=30_000)
    dialogs.open_path = str(path)
    panel.browse.click()
    qtbot.waitUntil(lambda: "'c0' is not a number" in panel.error.text(), timeout=30_000)
    return bench, panel


def test_roles_are_shown_and_each_change_is_one_undoable_edit(table_panel, qtbot):
    bench, panel = table_panel
    stack, graph = bench.document.undo_stack, bench.document.graph
    assert panel.columns.names == ["id", "age", "plan", "churn"]
    assert panel.columns.combo("churn").currentText() == "target" and panel.columns.combo("id").currentText() == "auto"
    assert "give it the role \"ignore\"" in panel.error.text()  # the id column says how to fix it

    choose(panel.columns.combo("id"), "ignore")
    qtbot.waitUntil(lambda: panel.columns.used_as("plan") == "one-hot, 3 levels", timeout=30_000)
    assert bench.settings.training["dataset"]["columns"] == {"id": "ignore"}
    assert panel.columns.used_as("id") == "left out"
    assert panel.columns.used_as("age") == "number, missing filled + marked"
    assert graph.node("x").params["shape"] == [5]  # age, age missing, 3 plans
    assert panel.notes.isVisible() and "'age': " in panel.notes.text() and "training mean" in panel.notes.text()
    depth = stack.index()

    choose(panel.columns.combo("plan"), "codes")
    qtbot.waitUntil(lambda: graph.node("x").params["shape"] == [3], timeout=30_000)
    assert bench.settings.training["dataset"]["columns"] == {"id": "ignore", "plan": "codes"}
    assert stack.index() == depth + 1  # the roles and the Input's shape: one step
    stack.undo()
    assert bench.settings.training["dataset"]["columns"] == {"id": "ignore"}
    assert graph.node("x").params["shape"] == [5]
    qtbot.waitUntil(lambda: panel.columns.combo("plan").currentText() == "auto", timeout=30_000)
    stack.redo()
    assert bench.settings.training["dataset"]["columns"] == {"id": "ignore", "plan": "codes"}

    choose(panel.columns.combo("plan"), "auto")
    qtbot.waitUntil(lambda: bench.settings.training["dataset"]["columns"] == {"id": "ignore"}, timeout=30_000)


def test_choosing_the_target_role_moves_the_target(table_panel, qtbot):
    bench, panel = table_panel
    choose(panel.columns.combo("id"), "ignore")
    qtbot.waitUntil(lambda: panel.columns.used_as("plan") == "one-hot, 3 levels", timeout=30_000)
    choose(panel.columns.combo("plan"), "target")
    qtbot.waitUntil(lambda: bench.settings.training["dataset"].get("target") == "plan", timeout=30_000)
    assert bench.settings.training["dataset"]["columns"] == {"id": "ignore"}
    qtbot.waitUntil(lambda: panel.columns.used_as("churn") == "one-hot, 2 levels", timeout=30_000)
    assert panel.target.currentData() == "plan" and panel.columns.combo("plan").currentText() == "target"
    assert "3 classes" in panel.preview.description


def test_roles_are_saved_in_the_project(table_panel, qtbot, tmp_path):
    bench, panel = table_panel
    choose(panel.columns.combo("id"), "ignore")
    qtbot.waitUntil(lambda: bench.settings.training["dataset"].get("columns") == {"id": "ignore"}, timeout=30_000)
    target = tmp_path / "saved.json"
    assert bench.window.save_as(target)
    assert json.loads(target.read_text())["training"]["dataset"]["columns"] == {"id": "ignore"}


def test_the_generated_customers_example_lists_its_columns(open_example, qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("NEUROCANVAS_CACHE", str(tmp_path / "cache"))
    bench = open_example("customers_tabular")
    bench.show_dock("data")
    panel = bench.data_panel
    qtbot.waitUntil(lambda: panel.columns.used_as("city") == "one-hot, 40 levels", timeout=60_000)
    assert panel.columns.names[0] == "customer_id" and panel.columns.used_as("customer_id") == "left out"
    assert panel.columns.combo("customer_id").currentText() == "ignore"
    assert panel.columns.used_as("churn") == "target"
    assert panel.columns.used_as("region") == "one-hot, 4 levels, missing filled + marked"
