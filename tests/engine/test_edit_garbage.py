"""An edit that gives a node a shape error, and its undo, leave nothing for the cyclic garbage collector.

The editor collects garbage on its own timer (`gui.workbench.gc_policy`); a result kept alive in a
reference cycle (a ShapeError holding the frames it was raised through, which hold the result) would
leave each such edit's 10,000-entry dicts for that collector to walk, in whichever edit it lands."""

import gc

from engine.shapes import ShapeInference
from graphs import Graph
from graphs.document import Edge


def residual(blocks: int = 20) -> Graph:
    g = Graph()
    g.add_node("Input", {"shape": [8]}, "x")
    g.add_node("Input", {"shape": [2, 8]}, "other")  # a source the Adds below cannot take
    previous = "x"
    for i in range(blocks):
        g.add_node("Linear", {"out_features": 8}, f"fc{i}")
        g.add_node("Add", {}, f"add{i}")
        g.connect(previous, f"fc{i}")
        g.connect(f"fc{i}", f"add{i}", target_port="in0")
        g.connect(previous, f"add{i}", target_port="in1")
        previous = f"add{i}"
    return g


def test_a_shape_error_and_its_undo_leave_no_cyclic_garbage():
    g = residual()
    live = ShapeInference(g)
    live.result()
    wire = g.edge_into("add5", "in0")
    other = Edge("other", "add5", "out", "in0")
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(5):
            g.disconnect(wire)
            g.connect(other.source, other.target, other.source_port, other.target_port)
            result = live.result()
            assert result.errors_for("add5")  # the Add cannot take the other shape
            g.disconnect(other)
            g.connect(wire.source, wire.target, wire.source_port, wire.target_port)
            assert live.result().errors == []
        del result
        assert gc.collect() == 0
    finally:
        if enabled:
            gc.enable()


def test_a_kept_shape_error_holds_no_frames():
    g = residual(3)
    g.disconnect(g.edge_into("add1", "in0"))
    g.connect("other", "add1", target_port="in0")
    error = ShapeInference(g).result().errors_for("add1")[0]
    assert error.__traceback__ is None
