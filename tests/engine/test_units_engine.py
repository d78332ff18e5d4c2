"""Graphs with units in the engine: shapes per instance, compiled names and classes, equality with the
same model written by hand, errors moved onto instances, training, and the CLI."""

import json

import pytest
import torch
from torch import nn

from engine.compiler import CompileError, compile_graph
from engine.shapes import ShapeInference, infer
from engine.training import Trainer
from engine.unit_summary import summary_tree
from graphs.project import Project, save_project
from tests.graphs.unit_cases import resnet_graph, too_large_graph

torch.set_num_threads(1)


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Conv2d(inplanes, planes, 1, stride, bias=False)
        self.shortcut_bn = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU()

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.shortcut_bn(self.shortcut(x)))


class Net(nn.Module):
    """resnet_graph() written by hand."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.block = BasicBlock(4, 4)
        self.layer1 = nn.Sequential(BasicBlock(4, 8, 2), BasicBlock(8, 8))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layer1(self.block(self.stem(x)))), 1))


def test_state_dict_keys_and_submodule_classes_follow_the_units():
    model = compile_graph(resnet_graph()).model
    keys = set(model.state_dict())
    assert {"layer1.0.conv1.weight", "layer1.1.shortcut_bn.running_mean", "block.conv2.weight", "fc.bias"} <= keys
    assert type(model.block).__name__ == "BasicBlock" and model.block.__doc__ == "A ResNet basic block."
    assert isinstance(model.layer1, nn.Sequential) and type(model.layer1[0]) is type(model.block)
    with pytest.raises(NotImplementedError, match="holds the weights"):
        model.block(torch.zeros(1, 4, 8, 8))


def test_the_compiled_model_computes_what_the_hand_written_one_does():
    torch.manual_seed(0)
    compiled = compile_graph(resnet_graph())
    reference = Net()
    assert set(reference.state_dict()) == set(compiled.model.state_dict())
    for module in compiled.model.modules():  # non-trivial BatchNorm statistics
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
    reference.load_state_dict(compiled.model.state_dict(), strict=True)
    compiled.model.eval()
    reference.eval()
    x = torch.randn(3, 1, 8, 8)
    torch.testing.assert_close(compiled.model(x), reference(x))


def test_shapes_params_and_macs_per_instance_and_in_total():
    g = resnet_graph()
    result = infer(g)
    assert result.errors == []
    assert result.output_shapes("block") == {"y": (4, 8, 8)}
    assert result.output_shapes("layer1") == {"y": (8, 4, 4)}
    model = compile_graph(g).model
    assert result.total_params == sum(p.numel() for p in model.parameters())
    assert result.info["layer1"].params == sum(p.numel() for p in model.layer1.parameters())
    assert result.info["layer1"].macs == sum(result.flat.info[i].macs for i in result.flat.info if i.startswith("layer1."))
    tree = {row.node: row for row in summary_tree(g, result)}
    assert [row.name for row in tree["layer1"].children] == ["0", "1"]
    copy0 = tree["layer1"].children[0]
    assert copy0.shapes == [(8, 4, 4)] and tree["layer1"].children[1].shape_text == "[8, 4, 4]"
    assert copy0.params == sum(p.numel() for p in model.layer1[0].parameters())
    assert [row.node for row in copy0.children][:2] == ["layer1.0.conv1", "layer1.0.bn1"]
    assert tree["stem"].children == []


def test_live_inference_follows_edits_of_instances_and_of_units():
    g = resnet_graph()
    live = ShapeInference(g)
    assert live.result().output_shapes("layer1") == {"y": (8, 4, 4)}
    g.set_param("layer1", "planes", 12)
    assert live.result().output_shapes("layer1") == {"y": (12, 4, 4)}
    g.set_param("layer1", "overrides", {})
    assert live.result().output_shapes("layer1") == {"y": (12, 8, 8)}
    inner = g.unit_graph("BasicBlock")
    inner.add_node("MaxPool2d", {"kernel_size": 2}, "pool")
    inner.disconnect(inner.in_edges("y")[0])
    inner.connect("relu2", "pool")
    inner.connect("pool", "y")
    result = live.result()
    assert result.errors == [] and result.output_shapes("block") == {"y": (4, 4, 4)}
    assert result.output_shapes("layer1") == {"y": (12, 1, 1)}
    live.close()


def test_an_error_inside_an_instance_is_shown_on_it_when_compiling():
    g = resnet_graph()
    g.set_param("stem", "out_channels", 3)
    g.unit_graph("BasicBlock").set_param("conv1", "groups", 2)  # 3 input channels are not divisible by 2
    with pytest.raises(CompileError) as caught:
        compile_graph(g)
    first = caught.value.errors[0]
    assert first.node == "block" and first.message.startswith("block (BasicBlock) › conv1: ")
    assert first.inner == "block.conv1"


def test_a_project_with_units_trains_and_freezes_whole_instances(tmp_path):
    g = resnet_graph(count=1)
    g.set_training_options("block", trainable=False)
    training = {"dataset": {"name": "digits"}, "val_split": 0.2, "batch_size": 64, "epochs": 1, "seed": 0,
                "device": "cpu", "optimizer": {"type": "Adam", "lr": 0.001}}
    trainer = Trainer(Project(g, name="units", training=training), max_batches=2, out_dir=tmp_path / "run")
    result = trainer.run()
    assert result.status == "finished", result.message
    assert "block" in trainer.fine_tuning.frozen
    model = trainer.compiled.model
    assert not any(p.requires_grad for p in model.block.parameters())
    assert all(p.requires_grad for p in model.layer1.parameters())
    saved = json.loads((tmp_path / "run" / "project.json").read_text())
    assert saved["version"] == 2 and saved["units"][0]["name"] == "BasicBlock"


def test_check_prints_the_units_folded_and_refuses_a_broken_unit(tmp_path, capsys):
    from engine.cli import run

    path = save_project(Project(resnet_graph(), name="units"), tmp_path / "units.json")
    assert run(["check", str(path)]) == 0
    table = capsys.readouterr().out
    assert "\n  0 " in table and "\n    conv1 " in table and "layer1.0" not in table
    assert run(["check", str(path), "--json"]) == 0
    nodes = json.loads(capsys.readouterr().out)["nodes"]
    assert nodes["layer1"]["children"][1]["children"][0]["node"] == "layer1.1.conv1"
    data = json.loads(path.read_text())
    data["units"][0]["nodes"].append({"id": "again", "type": "BasicBlock"})
    path.write_text(json.dumps(data))
    before = sorted(p.name for p in tmp_path.iterdir())
    assert run(["check", str(path)]) == 2
    assert "unit 'BasicBlock' cannot contain 'BasicBlock'" in capsys.readouterr().err
    assert run(["train", str(path), "--out", str(tmp_path / "run")]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def _picture(result):
    return ({node: {p: s.shape for p, s in info.outputs.items()} for node, info in result.info.items()},
            {node: info.params for node, info in result.info.items()},
            sorted((e.node, e.message) for e in result.errors))


def test_the_live_result_stays_equal_to_a_fresh_one_edit_after_edit():
    g = resnet_graph(count=3)
    live = ShapeInference(g)
    inner = g.unit_graph("BasicBlock")
    edits = [
        lambda: g.set_param("layer1", "planes", 0),  # wrong inside every copy: errors on layer1
        lambda: g.set_param("layer1", "planes", 6),
        lambda: g.set_param("layer1", "count", 1),
        lambda: g.set_param("layer1", "overrides", {}),
        lambda: inner.disconnect(inner.in_edges("bn2")[0]),  # every instance loses a wire
        lambda: inner.connect("conv2", "bn2"),
        lambda: g.set_param("block", "stride", 2),
        lambda: g.set_param("fc", "out_features", 7),  # the model's own layers: mirrored, not re-expanded
        lambda: g.add_node("Dropout", {"p": 0.1}, "drop"),
        lambda: g.disconnect(g.in_edges("fc")[0]),
        lambda: g.connect("flatten", "drop"),
        lambda: g.connect("drop", "fc"),
        lambda: g.set_param("stem", "out_channels", 5),
        lambda: g.remove_node("layer1"),
        lambda: g.connect("block", "pool", "y"),
        lambda: g.disconnect(g.in_edges("drop")[0]),
        lambda: g.remove_node("drop"),
    ]
    for edit in edits:
        edit()
        assert _picture(live.result()) == _picture(infer(g))
    live.close()


def test_a_model_too_large_to_expand_is_refused_by_check_and_compile():
    g = too_large_graph()
    assert [e.message for e in infer(g).errors] == [e.message for e in ShapeInference(g).result().errors]
    with pytest.raises(CompileError) as caught:
        compile_graph(g)
    assert len(caught.value.errors) == 1 and "at most 200,000" in str(caught.value)
