"""The shape follower looks for shapeless data nodes (a walk over every node of the model) only after an edit
that can leave one: adding or editing an Input, Target or Embedding, not adding any other layer or deleting."""

from gui.workbench import data_shapes


def test_only_data_nodes_make_the_follower_look(bench, qtbot, monkeypatch):
    document = bench.document
    bench.window.act.new.trigger()
    x = document.add_node("Input", (0, 0), {"shape": [4]})
    qtbot.wait(20)
    looks = []
    real = data_shapes.shapeless_data_nodes
    monkeypatch.setattr(data_shapes, "shapeless_data_nodes", lambda graph: looks.append(1) or real(graph))

    relu = document.add_node("Linear", (0, 200), {"out_features": 3})
    document.connect(x, "out", relu, "in")
    document.set_params(relu, {"out_features": 5})
    qtbot.wait(20)  # (the follower looks once after a burst of edits, when nothing is left to redo)
    assert looks == []
    document.remove([relu])
    qtbot.wait(20)
    assert looks == []

    document.add_node("Embedding", (200, 0), {"num_embeddings": 10, "embedding_dim": 4})
    qtbot.wait(20)
    assert len(looks) == 1  # (it has its size: the follower stops looking again)
    document.set_params(x, {"shape": [8]})
    qtbot.wait(20)
    assert len(looks) == 2
    document.remove([x])
    document.undo_stack.undo()  # an Input back: it could be a shapeless one (looked at after the next new edit)
    document.add_node("ReLU", (0, 400))
    qtbot.wait(20)
    assert len(looks) == 3
