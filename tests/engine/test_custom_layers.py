"""Custom layers (engine.custom_layers): a project's own nn.Module classes as node types, the trust gate,
shapes on the meta device, compile, and the per-project registry."""

import json
import shutil
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from engine.compiler import compile_graph, example_inputs
from engine.custom_layers import code_loader, load_trusted_project
from engine.custom_layers.trust import same_code_loader
from engine.errors import UserError
from engine.shapes import infer
from graphs.custom_types import CodeNotLoadedError
from graphs.document import Graph
from graphs.errors import ProjectFormatError, UnknownNodeTypeError
from graphs.project import load_project, save_project

FIXTURE = Path(__file__).parent / "fixtures" / "custom_layers"

PLAIN_NODES = [{"id": "x", "type": "Input", "params": {"shape": [4]}}, {"id": "fc", "type": "Linear",
                                                                       "params": {"out_features": 3}}]


def project_with(folder: Path, code: str | None, nodes, edges, **extra) -> Path:
    """A project file in `folder`, with `code` as its custom_layers.py (none when None)."""
    folder.mkdir(parents=True, exist_ok=True)
    if code is not None:
        (folder / "custom_layers.py").write_text(textwrap.dedent(code), encoding="utf-8")
    path = folder / "project.json"
    path.write_text(json.dumps({"format": "neurocanvas", "version": 1, "name": "p", "nodes": nodes,
                                "edges": edges, **extra}), encoding="utf-8")
    return path


def chain(*types_and_params):
    """Nodes x (Input [4]) -> each (type, params) in turn, and their wires."""
    nodes, edges, previous = [{"id": "x", "type": "Input", "params": {"shape": [4]}}], [], "x"
    for index, (type_name, params) in enumerate(types_and_params):
        node_id = f"n{index}"
        nodes.append({"id": node_id, "type": type_name, "params": params})
        edges.append({"source": previous, "target": node_id})
        previous = node_id
    return nodes, edges


MARKER_CODE = """
    from pathlib import Path
    from torch import nn
    Path(__file__).with_name("ran.marker").write_text("the file was executed")

    class Twice(nn.Module):
        def forward(self, x):
            return x * 2
"""


# ---- node types from the classes -------------------------------------------------------
def test_the_fixture_classes_become_node_types_of_that_project_only():
    project = load_trusted_project(FIXTURE / "project.json", True)
    types = project.graph.custom_types
    assert list(types) == ["SqueezeExcite", "Amplify"]
    squeeze = types["SqueezeExcite"]
    assert squeeze.category == "Custom" and squeeze.inputs == ("in",) and squeeze.outputs == ("out",)
    assert [(p.name, p.kind, p.default) for p in squeeze.params] == [("reduction", "int", 4),
                                                                     ("gate", "choice", "sigmoid")]
    assert squeeze.param("gate").choices == ("sigmoid", "hardsigmoid")
    assert squeeze.inferred == {"in_channels": ("in", 0)}  # from the input's shape, as Conv2d's
    assert squeeze.doc.startswith("Squeeze-and-excitation: rescales each channel")
    assert types["Amplify"].param("factor").kind == "float"
    assert project.graph.node("se").spec is squeeze
    with pytest.raises(UnknownNodeTypeError):  # no global registry: a new graph does not know them
        Graph().add_node("SqueezeExcite")


def test_params_and_ports_follow_the_signatures(tmp_path):
    code = """
        from typing import Literal, Optional
        import torch
        from torch import nn

        class Mixer(nn.Module):
            '''Mixes two tensors.'''
            outputs = ("mixed", "gate")

            def __init__(self, in_features, width: int, name: str = "mix", scale=0.5, flip: bool = False,
                         sizes: tuple[int, ...] = (1, 2), pair: tuple[int, int] = (3, 3), limit: Optional[int] = None,
                         mode: Literal["add", "mul"] = "add"):
                super().__init__()
                self.proj = nn.Linear(in_features, width)

            def forward(self, a, b=None):
                y = self.proj(a)
                return y, torch.sigmoid(y)
    """
    nodes, edges = chain(("Mixer", {"width": 5}))
    edges[0]["target_port"] = "a"
    project = load_project(project_with(tmp_path, code, nodes, edges), code_loader(True))
    mixer = project.graph.custom_types["Mixer"]
    assert mixer.inputs == ("a", "b") and mixer.optional == ("b",) and mixer.outputs == ("mixed", "gate")
    kinds = {p.name: (p.kind, p.default, p.optional) for p in mixer.params}
    assert kinds == {"width": ("int", 0, False), "name": ("str", "mix", False), "scale": ("float", 0.5, False),
                     "flip": ("bool", False, False), "sizes": ("int_list", [1, 2], False),
                     "pair": ("int_tuple", [3, 3], False), "limit": ("int", None, True),
                     "mode": ("choice", "add", False)}
    assert mixer.inferred == {"in_features": ("a", -1)}
    result = infer(project.graph)
    assert result.valid, result.errors
    assert result.output_shapes("n0") == {"mixed": (5,), "gate": (5,)}
    assert result.info["n0"].params == 4 * 5 + 5


@pytest.mark.parametrize("code, expected", [
    ("class Bad(nn.Module):\n    def __init__(self, thing: dict = None):\n        super().__init__()\n"
     "    def forward(self, x):\n        return x\n", "line 3: cannot tell what argument 'thing' of __init__ takes"),
    ("class Bad(nn.Module):\n    def forward(self, *xs):\n        return xs[0]\n", "line 3: Bad.forward takes *xs"),
    ("class Linear(nn.Module):\n    def forward(self, x):\n        return x\n",
     "class Linear has the name of a built-in node type"),
    ("def broken(:\n", "line 3: invalid syntax"),
    ("raise RuntimeError('no GPU\\x1b[31m here')\n", "line 3: RuntimeError: no GPU\\x1b[31m here"),
])
def test_a_class_that_cannot_be_a_node_type_is_refused_naming_the_file_and_line(tmp_path, code, expected):
    nodes, edges = chain(("Bad", {}))
    path = project_with(tmp_path, "from torch import nn\n\n" + code, nodes, edges)
    with pytest.raises((UserError, ProjectFormatError)) as error:
        load_project(path, code_loader(True))
    assert str(tmp_path / "custom_layers.py") in str(error.value) and expected in str(error.value)
    assert "\x1b" not in str(error.value)


# ---- trust ---------------------------------------------------------------------------------
def test_without_trust_the_code_is_never_executed(tmp_path):
    nodes, edges = chain(("Twice", {}))
    path = project_with(tmp_path, MARKER_CODE, nodes, edges)
    with pytest.raises(UserError, match="runs its own Python code .*custom_layers.py.*--trust-code"):
        load_project(path, code_loader(False))
    with pytest.raises(CodeNotLoadedError, match="custom_layers.py"):
        load_project(path)  # no loader at all: refused before anything runs
    import main

    assert main.main(["check", str(path)]) == 2 and main.main(["train", str(path), "--epochs", "1"]) == 2
    assert not (tmp_path / "ran.marker").exists()
    project = load_project(path, code_loader(True))
    assert (tmp_path / "ran.marker").exists() and infer(project.graph).output_shapes("n0") == {"out": (4,)}


def test_a_project_without_custom_layers_never_runs_code(tmp_path):
    calls = []

    def loader(files):
        calls.append(files)
        raise AssertionError("no code should be loaded")

    load_project(project_with(tmp_path / "plain", None, PLAIN_NODES, []), loader)
    # an empty custom_code runs nothing, even with a custom_layers.py beside the project
    load_project(project_with(tmp_path / "opted_out", MARKER_CODE, PLAIN_NODES, [], custom_code=[]), loader)
    assert calls == [] and not (tmp_path / "opted_out" / "ran.marker").exists()


def test_a_custom_type_without_code_beside_the_project_says_where_its_class_goes(tmp_path):
    nodes, edges = chain(("FancyMixerBlock", {}))
    with pytest.raises(ProjectFormatError, match="unknown node type 'FancyMixerBlock'; if it is a custom layer, define its "
                                                 "class in custom_layers.py beside the project"):
        load_project(project_with(tmp_path, None, nodes, edges), code_loader(True))


def test_listed_code_files_are_relative_to_the_project_and_a_missing_one_is_named(tmp_path):
    nodes, edges = chain(("Twice", {}))
    path = project_with(tmp_path, None, nodes, edges, custom_code=["layers/mine.py"])
    with pytest.raises(ProjectFormatError, match=r"custom layers file 'layers/mine.py' is missing"):
        load_project(path, code_loader(True))
    (tmp_path / "layers").mkdir()
    (tmp_path / "layers" / "mine.py").write_text(textwrap.dedent(MARKER_CODE), encoding="utf-8")
    project = load_project(path, code_loader(True))
    assert project.custom_code == ["layers/mine.py"] and "Twice" in project.graph.custom_types
    save_project(project, tmp_path / "again.json")
    assert json.loads((tmp_path / "again.json").read_text())["custom_code"] == ["layers/mine.py"]
    with pytest.raises(ProjectFormatError, match="custom_code must be a list of file paths"):
        load_project(project_with(tmp_path / "bad", None, nodes, edges, custom_code="mine.py"), code_loader(True))


def test_two_projects_may_define_one_class_name_differently(tmp_path):
    one = "from torch import nn\nclass Block(nn.Module):\n    def __init__(self, k: int = 1):\n        super().__init__()\n" \
          "    def forward(self, x):\n        return x\n"
    two = "from torch import nn\nclass Block(nn.Module):\n    def __init__(self, width: float = 2.0):\n" \
          "        super().__init__()\n    def forward(self, x):\n        return x * 2\n"
    nodes, edges = chain(("Block", {}))
    first = load_project(project_with(tmp_path / "a", one, nodes, edges), code_loader(True))
    second = load_project(project_with(tmp_path / "b", two, nodes, edges), code_loader(True))
    assert [p.name for p in first.graph.node("n0").spec.params] == ["k"]
    assert [p.name for p in second.graph.node("n0").spec.params] == ["width"]
    assert first.graph.copy().node("n0").spec is first.graph.custom_types["Block"]  # a training snapshot keeps them


# ---- shapes and errors ----------------------------------------------------------------------------
def test_an_error_raised_by_the_module_is_pinned_to_its_node_with_its_own_message(tmp_path):
    code = """
        from torch import nn

        class Picky(nn.Module):
            def __init__(self, size: int = 3):
                super().__init__()
                self.size = size

            def forward(self, x):
                if x.shape[-1] != self.size:
                    raise ValueError(f"wants {self.size} features,\\nnot {x.shape[-1]}")
                return x
    """
    nodes, edges = chain(("Picky", {}))
    project = load_project(project_with(tmp_path, code, nodes, edges), code_loader(True))
    errors = infer(project.graph).errors
    assert len(errors) == 1 and errors[0].node == "n0"
    assert errors[0].message == "Picky 'n0' raised ValueError: wants 3 features, not 4 (custom_layers.py line 11)"
    project.graph.set_params("n0", {"size": 4})
    assert infer(project.graph).valid


def test_shapes_are_cached_per_params_and_input_shapes(tmp_path):
    code = """
        from torch import nn
        BUILT = []

        class Counted(nn.Module):
            def __init__(self, width: int = 2):
                super().__init__()
                BUILT.append(width)
                self.fc = nn.LazyLinear(width)

            def forward(self, x):
                return self.fc(x)
    """
    nodes, edges = chain(("Counted", {}), ("Counted", {}))
    project = load_project(project_with(tmp_path, code, nodes, edges), code_loader(True))
    module = project.graph.custom_types["Counted"].op.cls
    built = __import__(module.__module__, fromlist=["BUILT"]).BUILT
    first = infer(project.graph)
    assert first.output_shapes("n1") == {"out": (2,)}
    assert built == [2, 2]  # n0 on [4], n1 on [2]: two different input shapes
    infer(project.graph)
    assert built == [2, 2]  # nothing ran again


# ---- compile -------------------------------------------------------------------------------------
def test_the_compiled_model_holds_the_class_and_computes_as_it_does():
    project = load_trusted_project(FIXTURE / "project.json", True)
    compiled = compile_graph(project.graph)
    se = compiled.model.get_submodule("se")
    assert type(se).__name__ == "SqueezeExcite" and se.fc1.in_features == 8
    assert {"se.fc1.weight", "se.fc2.bias"} <= set(compiled.model.state_dict())
    (x,) = example_inputs(compiled)
    expected = compiled.model.fc(torch.relu(se(compiled.model.conv1(x))).flatten(1))
    assert torch.equal(compiled.model(x), expected)
    assert isinstance(se, nn.Module) and se.__class__.__module__.startswith("neurocanvas_custom.")


def test_a_custom_node_trains_through_the_cli(tmp_path, capsys):
    import main

    folder = tmp_path / "project"
    shutil.copytree(FIXTURE, folder)
    assert main.main(["check", str(folder / "project.json")]) == 2
    assert "custom_layers.py" in capsys.readouterr().err
    out = tmp_path / "run"
    assert main.main(["train", str(folder / "project.json"), "--trust-code", "--out", str(out), "--quiet"]) == 0
    assert (out / "custom_layers.py").read_text() == (folder / "custom_layers.py").read_text()
    assert json.loads((out / "project.json").read_text())["custom_code"] == ["custom_layers.py"]
    again = load_project(out / "project.json", code_loader(True))  # the run folder stands on its own
    assert "SqueezeExcite" in again.graph.custom_types
    assert main.main(["diff", str(out), str(out)]) == 2 and "--trust-code" in capsys.readouterr().err
    assert main.main(["diff", str(out), str(out), "--trust-code"]) == 0
    # the editor reads a run's copy of the code it already trusted, and nothing else
    trusted = load_project(folder / "project.json", code_loader(True)).graph.custom_types
    assert "SqueezeExcite" in load_project(out / "project.json", same_code_loader(trusted)).graph.custom_types
    with open(out / "custom_layers.py", "a", encoding="utf-8") as handle:
        handle.write("# changed\n")
    with pytest.raises(UserError, match="--trust-code"):
        load_project(out / "project.json", same_code_loader(trusted))


def test_a_class_that_cannot_be_a_node_type_does_not_stop_the_others(tmp_path):
    code = MARKER_CODE + """
    class Configured(nn.Module):
        def __init__(self, config):
            super().__init__()

        def forward(self, x):
            return x
"""
    nodes, edges = chain(("Twice", {}))
    project = load_project(project_with(tmp_path, code, nodes, edges), code_loader(True))
    assert list(project.graph.custom_types) == ["Twice"]
    with pytest.raises(UnknownNodeTypeError, match="Configured cannot be a node type: .*line 10: cannot tell "
                                                   "what argument 'config'"):
        project.graph.add_node("Configured")


def test_a_launch_script_carries_the_code_and_the_trust_along(tmp_path):
    from engine.launch_script import write_launch_script

    folder = tmp_path / "project"
    shutil.copytree(FIXTURE, folder)
    with pytest.raises(UserError, match="--trust-code"):
        write_launch_script(folder / "project.json", tmp_path / "launch")
    assert not (tmp_path / "launch").exists()
    script = write_launch_script(folder / "project.json", tmp_path / "launch", trust_code=True)
    assert "train \"$here\"/project.json --trust-code" in script.read_text()
    assert (tmp_path / "launch" / "custom_layers.py").read_text() == (folder / "custom_layers.py").read_text()
    copy = load_project(tmp_path / "launch" / "project.json", code_loader(True))
    assert copy.custom_code == ["custom_layers.py"] and "SqueezeExcite" in copy.graph.custom_types


def test_a_module_whose_init_reads_values_is_built_on_the_cpu_for_its_shapes(tmp_path):
    code = """
        import torch
        from torch import nn

        class Window(nn.Module):
            def __init__(self, size: int = 3):
                super().__init__()
                self.width = int(torch.ones(size).sum().item())  # .item() cannot run on the meta device
                self.fc = nn.Linear(4, self.width)

            def forward(self, x):
                return self.fc(x)
    """
    nodes, edges = chain(("Window", {"size": 5}))
    result = infer(load_project(project_with(tmp_path, code, nodes, edges), code_loader(True)).graph)
    assert result.valid and result.output_shapes("n0") == {"out": (5,)} and result.info["n0"].params == 25
