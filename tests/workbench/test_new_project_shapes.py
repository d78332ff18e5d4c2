"""A new project gets the dataset's shapes without touching the Data panel, undo doesn't fight it, and
F5 on a graph that can't train says why and leaves the runs as they were (issue 11, items 1 and 8)."""

from engine.data_shapes import shapeless_data_nodes
from graphs.project import load_project
from gui.workbench.data_shapes import FILL_TEXT

TIMEOUT_MS = 60_000


def build_classifier(document) -> tuple[str, str]:
    """The issue's sequence: Input, Flatten, Linear, Target, CrossEntropyLoss, wired up; (input, target) ids."""
    x = document.add_node("Input", (0, 0))
    flat = document.add_node("Flatten", (200, 0))
    fc = document.add_node("Linear", (400, 0), {"out_features": 10})
    y = document.add_node("Target", (400, 200))
    loss = document.add_node("CrossEntropyLoss", (600, 100))
    for source, target, port in ((x, flat, "in"), (flat, fc, "in"), (fc, loss, "input"), (y, loss, "target")):
        assert document.connect(source, "out", target, port)
    return x, y


def test_new_project_takes_the_datasets_shapes_without_the_data_panel(bench, qtbot, finished, tmp_path):
    window, document = bench.window, bench.document
    window.act.new.trigger()
    assert bench.settings.training["dataset"] == {"name": "digits"}
    x, y = build_classifier(document)
    graph = document.graph
    qtbot.waitUntil(lambda: not shapeless_data_nodes(graph), timeout=TIMEOUT_MS)
    assert graph.node(x).params["shape"] == [1, 8, 8]
    assert graph.node(y).params["shape"] == []
    assert document.result.valid, [str(e) for e in document.result.errors]
    assert bench.data_panel.shown_key is None  # the Data panel never loaded anything

    run = finished(bench)  # F5 trains the graph as shown
    assert run.status == "finished"
    assert window.save_as(tmp_path / "new.json")
    saved = load_project(tmp_path / "new.json")
    assert saved.graph.node(x).params["shape"] == [1, 8, 8]


def test_undoing_the_shapes_step_is_not_undone_again(bench, qtbot):
    document = bench.document
    bench.window.act.new.trigger()
    x = document.add_node("Input", (0, 0))
    stack, graph = document.undo_stack, document.graph
    qtbot.waitUntil(lambda: stack.undoText().startswith(FILL_TEXT), timeout=TIMEOUT_MS)
    assert graph.node(x).params["shape"] == [1, 8, 8]

    stack.undo()
    qtbot.wait(50)  # the follower's check runs on the next turn of the event loop
    assert graph.node(x).params.get("shape") is None
    assert stack.index() == 1 and stack.canRedo()  # the step waits to be redone, not pushed again
    stack.redo()
    assert graph.node(x).params["shape"] == [1, 8, 8]
    stack.undo()
    stack.undo()
    qtbot.wait(50)
    assert not graph.has_node(x) and stack.index() == 0

    y = document.add_node("Target", (0, 200))  # the shapes are known now: filled at once, as its own step
    qtbot.waitUntil(lambda: graph.node(y).params.get("shape") == [], timeout=TIMEOUT_MS)
    assert stack.count() == 2 and stack.undoText().startswith(FILL_TEXT)


def test_a_dataset_that_cannot_load_leaves_the_shapes_empty_and_f5_says_why(bench, qtbot, dialogs):
    document = bench.document
    bench.window.act.new.trigger()
    settings = bench.settings.training
    settings["dataset"] = {"name": "csv", "path": "no/such/file.csv"}
    bench.settings.update(settings, "a missing file")
    ids = build_classifier(document)
    qtbot.waitUntil(lambda: not bench.shapes.pending and bool(bench.shapes.known), timeout=TIMEOUT_MS)
    assert sorted(shapeless_data_nodes(document.graph)) == sorted(ids)

    assert not bench.start()
    assert bench.runs_panel.runs == []
    (text,) = dialogs.texts("warning")
    assert "has no shape" in text or "shape" in text
    assert "Data panel" in text


def test_f5_on_a_broken_graph_keeps_the_last_run(open_example, finished, dialogs, qtbot):
    bench = open_example("iris_mlp", epochs=2)
    first = finished(bench)
    assert first.status == "finished"
    qtbot.waitUntil(lambda: first.evaluation is not None, timeout=TIMEOUT_MS)
    curves = bench.plots.series

    assert bench.document.remove(["fc1"])  # the loss loses its input
    bench.actions.a.start.trigger()
    assert bench.runs_panel.runs == [first]
    assert bench.runs_panel.current() is first
    assert bench.plots.series is curves
    assert bench.evaluation_panel.report is first.evaluation
    (text,) = dialogs.texts("warning")
    assert "fc1" in text or "input" in text
    assert bench.controller.state == "idle"


def test_a_run_refused_by_the_data_is_not_listed(open_example, finished, dialogs, qtbot):
    bench = open_example("digits_cnn", epochs=1)
    first = finished(bench)
    assert bench.document.set_param("fc", "out_features", 5)  # 5 class scores for 10 classes
    with qtbot.waitSignal(bench.controller.stateChanged, timeout=TIMEOUT_MS,
                          check_params_cb=lambda state: state == "idle"):
        bench.actions.a.start.trigger()
    assert bench.runs_panel.runs == [first] and bench.runs_panel.current() is first
    (text,) = dialogs.texts("warning")
    assert "10 classes" in text
    assert bench.plots.series is first.series


def test_f5_before_the_shapes_are_known_starts_once_they_are(bench, qtbot):
    bench.window.act.new.trigger()
    build_classifier(bench.document)
    with qtbot.waitSignal(bench.controller.runFinished, timeout=TIMEOUT_MS):
        assert bench.start()  # the engine and the data are still loading
        assert bench.shapes.pending and bench.runs_panel.runs == []
    (run,) = bench.runs_panel.runs
    assert run.status == "finished"
    assert not shapeless_data_nodes(run.project.graph)  # it trained the graph as shown, shapes filled
