"""Documents with units, shared by the unit tests: a ResNet-style BasicBlock and small models using it."""

from __future__ import annotations

from graphs.document import Graph
from graphs.units import UnitDefinition

REF_PLANES, REF_STRIDE = {"ref": "planes"}, {"ref": "stride"}


def basic_block(units, name: str = "BasicBlock", shortcut: tuple[str, str] = ("shortcut", "shortcut_bn"),
                switch: str | None = None, doc: str = "A ResNet basic block.") -> UnitDefinition:
    """x -> conv1 (stride) -> bn1 -> relu1 -> conv2 -> bn2 -> + -> relu2 -> y, the skip a strided 1x1 conv
    and a BatchNorm named `shortcut` (a projection shortcut, ResNet's option C); with `switch`, a bool unit
    param (default false) makes the shortcut's two layers optional."""
    params = {"planes": 8, "stride": 1, **({switch: False} if switch else {})}
    optional = {layer: switch for layer in shortcut} if switch else {}
    unit = UnitDefinition(name, Graph(units=units), params, doc, optional)
    g = unit.graph
    g.add_node("UnitInput", node_id="x")
    g.add_node("Conv2d", {"out_channels": REF_PLANES, "kernel_size": 3, "stride": REF_STRIDE, "padding": 1,
                          "bias": False}, "conv1")
    g.add_node("BatchNorm2d", node_id="bn1")
    g.add_node("ReLU", node_id="relu1")
    g.add_node("Conv2d", {"out_channels": REF_PLANES, "kernel_size": 3, "padding": 1, "bias": False}, "conv2")
    g.add_node("BatchNorm2d", node_id="bn2")
    conv, norm = shortcut
    g.add_node("Conv2d", {"out_channels": REF_PLANES, "kernel_size": 1, "stride": REF_STRIDE, "bias": False}, conv)
    g.add_node("BatchNorm2d", node_id=norm)
    g.add_node("Add", node_id="add")
    g.add_node("ReLU", node_id="relu2")
    g.add_node("UnitOutput", node_id="y")
    for source, target in [("x", "conv1"), ("conv1", "bn1"), ("bn1", "relu1"), ("relu1", "conv2"), ("conv2", "bn2"),
                           ("x", conv), (conv, norm), ("add", "relu2"), ("relu2", "y")]:
        g.connect(source, target)
    g.connect("bn2", "add", target_port="in0")
    g.connect(norm, "add", target_port="in1")
    return unit


def resnet_graph(count: int = 2) -> Graph:
    """Input [1, 8, 8] -> stem -> block (BasicBlock, planes 4) -> layer1 (Repeat, planes 8, copy 0 stride 2)
    -> pool -> flatten -> fc -> a loss."""
    g = Graph()
    g.add_unit(basic_block(g.units))
    g.add_node("Input", {"shape": [1, 8, 8]}, "image")
    g.add_node("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, "stem")
    g.add_node("BasicBlock", {"planes": 4}, "block")
    g.add_node("Repeat", {"unit": "BasicBlock", "count": count, "planes": 8, "overrides": {"0": {"stride": 2}}},
               "layer1")
    g.add_node("AdaptiveAvgPool2d", node_id="pool")
    g.add_node("Flatten", node_id="flatten")
    g.add_node("Linear", {"out_features": 10}, "fc")
    g.add_node("Target", {"shape": []}, "label")
    g.add_node("CrossEntropyLoss", node_id="loss")
    g.connect("image", "stem")
    g.connect("stem", "block", target_port="x")
    g.connect("block", "layer1", "y", "x")
    g.connect("layer1", "pool", "y")
    for source, target in [("pool", "flatten"), ("flatten", "fc")]:
        g.connect(source, target)
    g.connect("fc", "loss", target_port="input")
    g.connect("label", "loss", target_port="target")
    return g


def stage_unit(units) -> UnitDefinition:
    """Stage(width): a BasicBlock of stride 2, then a Repeat of two BasicBlocks, all of `width` planes."""
    stage = UnitDefinition("Stage", Graph(units=units), {"width": 16}, "Two blocks.")
    s = stage.graph
    s.add_node("UnitInput", node_id="x")
    s.add_node("BasicBlock", {"planes": {"ref": "width"}, "stride": 2}, "first")
    s.add_node("Repeat", {"unit": "BasicBlock", "count": 2, "planes": {"ref": "width"}}, "rest")
    s.add_node("UnitOutput", node_id="y")
    s.connect("x", "first", target_port="x")
    s.connect("first", "rest", "y", "x")
    s.connect("rest", "y", "y")
    return stage


def too_large_graph() -> Graph:
    """resnet_graph() whose layer1 repeats 4096 times a unit `Wide` that repeats 4096 BasicBlocks."""
    g = resnet_graph()
    wide = UnitDefinition("Wide", Graph(units=g.units), {})
    wide.graph.add_node("UnitInput", node_id="x")
    wide.graph.add_node("Repeat", {"unit": "BasicBlock", "count": 4096}, "blocks")
    wide.graph.add_node("UnitOutput", node_id="y")
    wide.graph.connect("x", "blocks", target_port="x")
    wide.graph.connect("blocks", "y", "y")
    g.add_unit(wide)
    g.set_params("layer1", {"unit": "Wide", "count": 4096})
    return g


def deep_repeat_model(count: int = 3) -> Graph:
    """Input [8, 8, 8] -> `stages`, a Repeat of `count` Deep units (each a Repeat of BasicBlocks whose count is
    Deep's param `depth`, their planes its `planes`) -> flatten: copies whose structure reads a param."""
    g = Graph()
    g.add_unit(basic_block(g.units))
    deep = UnitDefinition("Deep", Graph(units=g.units), {"depth": 2, "planes": 8})
    deep.graph.add_node("UnitInput", node_id="x")
    deep.graph.add_node("Repeat", {"unit": "BasicBlock", "count": {"ref": "depth"}, "planes": {"ref": "planes"}},
                        "blocks")
    deep.graph.add_node("UnitOutput", node_id="y")
    deep.graph.connect("x", "blocks", target_port="x")
    deep.graph.connect("blocks", "y", "y")
    g.add_unit(deep)
    g.add_node("Input", {"shape": [8, 8, 8]}, "image")
    g.add_node("Repeat", {"unit": "Deep", "count": count}, "stages")
    g.add_node("Flatten", node_id="flatten")
    g.connect("image", "stages", target_port="x")
    g.connect("stages", "flatten", "y")
    return g
