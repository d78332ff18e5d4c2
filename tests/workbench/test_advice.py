"""The advisor in the GUI: banners over the curves, one-click fixes as one undo step, health chips on the canvas."""

from __future__ import annotations

from engine.training import events
from engine.training.advisor import Advice, Fix, regularisation_fixes
from graphs.validate import validate
from gui.canvas.health_overlay import BROKEN, OK, TROUBLE, HealthChip


def overfitting_advice(bench) -> Advice:
    fixes = regularisation_fixes(bench.document.graph, bench.settings.training)
    return Advice("overfitting", 3, "overfitting from epoch 3: ...", {"epochs": [3, 6]}, fixes)


def test_a_run_paints_health_on_the_nodes_and_ends_with_its_advice(open_example, finished):
    bench = open_example("moons_mlp", epochs=3)
    bench.run_options.update(max_batches=None)  # 25 batches an epoch: health samples at most every 10th
    finished(bench)
    chips = bench.health_overlay.chips()
    assert {"fc1", "act1", "fc2", "act2", "fc3"} <= set(chips) and bench.health_overlay.samples >= 1
    assert all(chip.colour == OK for chip in chips.values())  # a healthy start
    assert "gradient norm" in chips["fc1"].toolTip() and "activation mean" in chips["act1"].toolTip()
    run = bench.runs_panel.runs[-1]
    assert [row.advice for row in bench.advice_banner.rows] == run.result.advice


def test_the_dropout_fix_inserts_a_node_as_one_undo_step(open_example, qtbot):
    bench = open_example("moons_mlp")
    banner, stack, graph = bench.advice_banner, bench.document.undo_stack, bench.document.graph
    before = graph.snapshot()
    banner.show_advice([overfitting_advice(bench)])
    row = banner.rows[0]
    assert banner.isVisible() and [b.text() for b in row.fix_buttons] == [
        "insert Dropout(0.3) after act2", "set weight_decay 1e-4", "set patience 5 (early stopping)"]
    count = stack.count()
    row.fix_buttons[0].click()
    assert stack.count() == count + 1
    dropout = next(n for n in graph.nodes() if n.type == "Dropout")
    assert dropout.params["p"] == 0.3
    assert {(e.source, e.target) for e in graph.edges()} >= {("act2", dropout.id), (dropout.id, "fc3")}
    assert ("act2", "fc3") not in {(e.source, e.target) for e in graph.edges()}
    assert not validate(graph)
    stack.undo()
    assert graph.snapshot() == before


def test_a_settings_fix_is_one_undo_step(open_example):
    bench = open_example("moons_mlp")
    banner, stack = bench.advice_banner, bench.document.undo_stack
    banner.show_advice([overfitting_advice(bench)])
    banner.rows[0].fix_buttons[1].click()
    assert bench.settings.training["optimizer"]["weight_decay"] == 1e-4
    stack.undo()
    assert "weight_decay" not in bench.settings.training["optimizer"]


def test_show_marks_the_epoch_on_the_curves_and_selects_the_node(open_example):
    bench = open_example("moons_mlp")
    banner = bench.advice_banner
    banner.show_advice([Advice("dead_relu", 4, "'fc2': dead", {"node": "fc2"}, (), "fc2"),
                        overfitting_advice(bench)])
    bench.plots.x_mode.setCurrentText("epoch")
    banner.rows[1].show_button.click()
    assert [line.value() for _plot, line in banner._marks] == [3, 6]
    banner.rows[0].show_button.click()
    assert [line.value() for _plot, line in banner._marks] == [4]
    assert bench.window.scene.selected_node_ids() == ["fc2"]
    banner.clear()
    assert banner._marks == [] and banner.rows == [] and not banner.isVisible()


def node(node_id, dead=None, grad=0.5, finite=True):
    return events.NodeHealth(node_id, 0.1, 1.0, dead, dead, grad, finite)


def test_chips_colour_trouble_and_the_first_non_finite_node(open_example):
    bench = open_example("moons_mlp")
    overlay = bench.health_overlay
    overlay.show_sample(events.HealthSample(1, 1, 1, (node("fc1"), node("act1", dead=0.8, grad=None),
                                                      node("fc2", grad=1e-12), node("fc3", grad=5e3))))
    chips = overlay.chips()
    assert chips["fc1"].colour == OK and chips["act1"].colour == TROUBLE
    assert "80% of its units are dead" in chips["act1"].toolTip()
    assert chips["fc2"].colour == TROUBLE and "vanishing" in chips["fc2"].problem
    assert "exploding" in chips["fc3"].problem
    overlay.show_sample(events.HealthSample(1, 2, 2, (node("fc1", finite=False),), first_non_finite="fc1"))
    assert chips["fc1"].colour == BROKEN and "first non-finite" in chips["fc1"].toolTip()
    assert sum(isinstance(c, HealthChip) for c in chips["fc1"].parentItem().childItems()) == 1  # reused
    overlay.clear()
    assert overlay.chips() == {}


def test_fixes_that_no_longer_apply_are_refused_with_a_message(open_example, qtbot):
    bench = open_example("moons_mlp")
    fix = Fix("insert Dropout(0.3) after gone", {"op": "insert_after", "node": "gone", "type": "Dropout",
                                                   "params": {"p": 0.3}})
    bench.advice_banner.show_advice([Advice("overfitting", 2, "m", {}, (fix,))])
    with qtbot.waitSignal(bench.document.message) as message:
        bench.advice_banner.rows[0].fix_buttons[0].click()
    assert "no node gone" in message.args[0]
