"""PyTorch-code export: the generated file is standalone (only torch and safetensors), lint-clean,
readable, and reproduces the compiled model within 1e-5 for every example, run in a separate process."""

import json
import operator
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import fx

from engine.export import (
    ExportError,
    class_name_for,
    export_python,
    prepare_model,
    python_source,
    verify_python,
)
from engine.export.forward_code import forward_source
from engine.export.model import run_model, sample_inputs
from graphs import Graph, load_project

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = sorted((ROOT / "resources/examples").glob("*.json")) + sorted(
    (Path(__file__).parent / "export_projects").glob("*.json"))
TOLERANCE = 1e-5

# Runs in a fresh interpreter with the Neurocanvas packages made unimportable: for each job it imports
# the generated file, loads the weights through its `load`, runs the saved inputs and saves the outputs,
# then runs the file as a script (its __main__ demo) and keeps what it printed.
DRIVER = """
import contextlib, importlib.util, io, json, runpy, sys
for package in ("engine", "graphs", "gui", "main"):
    sys.modules[package] = None  # the generated code must need only torch and safetensors
import torch
from safetensors.torch import load_file, save_file

for job in json.load(open(sys.argv[1])):
    spec = importlib.util.spec_from_file_location(job["name"], job["code"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.load(job["weights"])
    saved = load_file(job["inputs"])
    with torch.no_grad():
        outputs = model(*(saved[name] for name in job["input_names"]))
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    save_file({f"out{i}": t.contiguous() for i, t in enumerate(outputs)}, job["outputs"])
    printed = io.StringIO()
    sys.argv = [job["code"]]
    with contextlib.redirect_stdout(printed):
        runpy.run_path(job["code"], run_name="__main__")
    open(job["demo"], "w").write(printed.getvalue())
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every project exported to code + weights and run once, all in one subprocess."""
    folder = tmp_path_factory.mktemp("python_export")
    jobs, expected = [], {}
    for index, path in enumerate(PROJECTS):
        project = load_project(path)
        compiled = prepare_model(project.graph, seed=index)
        stem = path.stem
        code = export_python(compiled, project.graph, folder / f"{stem}.py",
                             weights_path=folder / f"{stem}.safetensors", project_name=project.name)
        inputs = sample_inputs(compiled, batch=4, seed=index)
        save_file(dict(zip(compiled.inputs, inputs)), folder / f"{stem}.inputs.safetensors")
        expected[stem] = (compiled, run_model(compiled.model.eval(), inputs))
        jobs.append({"name": stem, "code": str(code), "weights": str(folder / f"{stem}.safetensors"),
                     "inputs": str(folder / f"{stem}.inputs.safetensors"), "input_names": compiled.inputs,
                     "outputs": str(folder / f"{stem}.outputs.safetensors"), "demo": str(folder / f"{stem}.demo")})
    (folder / "jobs.json").write_text(json.dumps(jobs))
    (folder / "driver.py").write_text(DRIVER)
    run = subprocess.run([sys.executable, "-I", str(folder / "driver.py"), str(folder / "jobs.json")],
                         cwd=folder, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return folder, expected


@pytest.mark.parametrize("path", PROJECTS, ids=[p.stem for p in PROJECTS])
def test_generated_code_reproduces_the_model_in_a_separate_process(exported, path):
    folder, expected = exported
    compiled, want = expected[path.stem]
    got = load_file(folder / f"{path.stem}.outputs.safetensors")
    assert len(got) == len(want) == len(compiled.outputs)
    for index, tensor in enumerate(want):
        torch.testing.assert_close(got[f"out{index}"], tensor, rtol=0, atol=TOLERANCE)
    demo = (folder / f"{path.stem}.demo").read_text().splitlines()
    shapes = [compiled.shapes.info[node].outputs[port].shape for node, port in compiled.output_sources]
    assert demo == [f"{name}: {[2, *shape]}" for name, shape in zip(compiled.outputs, shapes)]


@pytest.mark.parametrize("path", PROJECTS, ids=[p.stem for p in PROJECTS])
def test_generated_code_verifies_in_process(exported, path):
    folder, expected = exported
    compiled, _ = expected[path.stem]
    assert verify_python(compiled, folder / f"{path.stem}.py") <= TOLERANCE


def test_generated_files_pass_the_project_linter(exported):
    folder, _ = exported
    files = sorted(str(p) for p in folder.glob("*.py") if p.name != "driver.py")
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                          str(ROOT / "pyproject.toml"), *files], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_code_reads_like_hand_written_code(exported):
    folder, _ = exported
    cnn = (folder / "digits_cnn.py").read_text()
    assert "        self.conv1 = nn.Conv2d(in_channels=1, out_channels=16, kernel_size=3, padding=1)\n" in cnn
    assert "    def forward(self, x):\n        conv1 = self.conv1(x)\n" in cnn
    assert 'WEIGHTS = Path(__file__).with_name("digits_cnn.safetensors")' in cnn
    assert "class DigitsCnn(nn.Module):" in cnn
    lstm = (folder / "digits_lstm.py").read_text()
    assert "nn.LSTM(input_size=8, hidden_size=64, batch_first=True)" in lstm
    assert "        seq = x.reshape(x.size(0), 8, 8)\n        lstm = self.lstm(seq)[0][:, -1]\n" in lstm
    assert "        add = bn3 + act1\n" in (folder / "residual_cnn.py").read_text()
    multi = (folder / "multi_io.py").read_text()
    assert "        joined = torch.cat([flat, gelu], dim=1)\n" in multi
    assert "        summed = elu + gated + mix\n" in multi
    assert "        return class_logits, bounded\n" in multi
    assert "torch.randint(0, 20, (batch, 5))" in multi
    sequence = (folder / "sequence_stack.py").read_text()
    assert "        attn = self.attn(gru, gru, gru, need_weights=False)[0]\n" in sequence
    for path in folder.glob("*.py"):
        if path.name != "driver.py":
            text = path.read_text()
            assert "getitem" not in text and "= None" not in text and "operator" not in text, path.name


def test_names_that_would_shadow_what_the_code_uses_are_renamed(tmp_path):
    graph = Graph()
    graph.add_node("Input", {"shape": [3]}, "x")
    graph.add_node("Linear", {"out_features": 4}, "nn")
    graph.add_node("ReLU", {}, "load")
    graph.add_node("Add", {}, "sys")
    graph.connect("x", "nn")
    graph.connect("nn", "load")
    graph.connect("load", "sys", target_port="in0")
    graph.connect("nn", "sys", target_port="in1")
    compiled = prepare_model(graph)
    source = python_source(compiled, graph)
    assert "        self.nn = nn.Linear(in_features=3, out_features=4)\n" in source
    assert "        nn_1 = self.nn(x)\n" in source  # the local may not hide the module `nn`
    code = export_python(compiled, graph, tmp_path / "model.py")
    assert verify_python(compiled, code) == 0.0
    assert [p.name for p in tmp_path.iterdir()] == ["model.py"]  # verifying left no __pycache__ behind


def test_verify_reports_code_that_does_not_build_the_model(tmp_path):
    project = load_project(ROOT / "resources/examples/iris_mlp.json")
    compiled = prepare_model(project.graph)
    code = export_python(compiled, project.graph, tmp_path / "model.py")
    code.write_text(code.read_text().replace("out_features=3", "out_features=4"))
    with pytest.raises(ExportError, match="does not build the model: RuntimeError"):
        verify_python(compiled, code)


def test_class_names_that_clash_with_the_file_are_refused():
    project = load_project(ROOT / "resources/examples/iris_mlp.json")
    compiled = prepare_model(project.graph)
    for bad in ("Path", "load", "None", "not a name"):
        with pytest.raises(ExportError, match="cannot be the class name"):
            python_source(compiled, project.graph, class_name=bad)


def test_a_graph_edited_after_compiling_is_refused():
    project = load_project(ROOT / "resources/examples/iris_mlp.json")
    compiled = prepare_model(project.graph)
    project.graph.remove_node("act1")
    project.graph.add_node("Linear", {"out_features": 32}, "act1")
    with pytest.raises(ExportError, match="node 'act1' is a Linear in the graph but a ReLU"):
        python_source(compiled, project.graph)


def test_existing_identical_weights_are_not_rewritten(tmp_path):
    project = load_project(ROOT / "resources/examples/iris_mlp.json")
    compiled = prepare_model(project.graph)
    weights = tmp_path / "model.safetensors"
    export_python(compiled, project.graph, tmp_path / "model.py", weights_path=weights)
    stamp = weights.stat().st_mtime_ns
    export_python(compiled, project.graph, tmp_path / "model.py", weights_path=weights)
    assert weights.stat().st_mtime_ns == stamp
    with torch.no_grad():
        compiled.model.get_submodule("fc1").bias.zero_()
    export_python(compiled, project.graph, tmp_path / "model.py", weights_path=weights)
    assert torch.equal(load_file(weights)["fc1.bias"], torch.zeros(32))


def test_weights_in_another_folder_are_referenced_by_absolute_path(tmp_path):
    project = load_project(ROOT / "resources/examples/iris_mlp.json")
    (tmp_path / "code").mkdir()
    (tmp_path / "weights").mkdir()
    code = export_python(prepare_model(project.graph), project.graph, tmp_path / "code" / "iris.py",
                         weights_path=tmp_path / "weights" / "iris.safetensors")
    assert f'WEIGHTS = Path("{(tmp_path / "weights" / "iris.safetensors").resolve()}")' in code.read_text()


def test_without_weights_the_file_needs_a_path_and_defaults_to_random_weights():
    project = load_project(ROOT / "resources/examples/iris_mlp.json")
    source = python_source(prepare_model(project.graph), project.graph, class_name="Iris")
    assert "WEIGHTS =" not in source and "from pathlib" not in source
    assert "def load(path):" in source
    assert "weights = sys.argv[1] if len(sys.argv) > 1 else None" in source
    compile(source, "iris.py", "exec")


@pytest.mark.parametrize("name, expected", [
    ("digits-lstm", "DigitsLstm"), ("my first model", "MyFirstModel"), ("3 layers", "Model3Layers"),
    ("", "Model"), (None, "Model"), ("résumé!", "RSum"),
])
def test_class_names_from_project_names(name, expected):
    assert class_name_for(name) == expected


def _printed_forward(function) -> tuple[str, fx.GraphModule]:
    traced = fx.symbolic_trace(function)
    lines = forward_source(traced.graph, node_ids=set())
    return "\n".join(lines), traced


def test_operator_precedence_is_kept():
    def function(a, b):
        return ((a + b) * a - (b - a)) / (a - b)[0], a + b + a

    text, traced = _printed_forward(function)
    namespace = {"torch": torch}
    exec(text.replace("def forward(self,", "def forward(self_unused,"), namespace)
    a, b = torch.randn(3, 2), torch.randn(3, 2)
    for got, want in zip(namespace["forward"](None, a, b), traced(a, b)):
        torch.testing.assert_close(got, want)
    assert "(a - b)[0]" in text


def test_an_unknown_function_is_refused_not_guessed():
    graph = fx.Graph()
    x = graph.placeholder("x")
    graph.output(graph.call_function(operator.not_, (x,)))
    with pytest.raises(ExportError, match="cannot write Python for the function"):
        forward_source(graph, node_ids=set())
