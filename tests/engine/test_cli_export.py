"""`export PROJECT [--weights FILE] (--onnx | --python | --safetensors FILE)`: exit codes and messages."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import main

ROOT = Path(__file__).resolve().parents[2]
CNN = str(ROOT / "resources/examples/digits_cnn.json")
RESIDUAL = str(ROOT / "resources/examples/residual_cnn.json")
IRIS = str(ROOT / "resources/examples/iris_mlp.json")
RANDOM_NOTE = "note: no --weights given, so the export holds randomly initialised weights (seed 0)\n"


def single_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neurocanvas export: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_onnx_export_prints_what_it_wrote_and_the_check(tmp_path, capfd):
    target = tmp_path / "cnn.onnx"
    assert main.main(["export", CNN, "--onnx", str(target)]) == 0
    out, err = capfd.readouterr()
    wrote, checked = out.splitlines()
    assert wrote.startswith(f"wrote {target}: ONNX opset 17, torchscript exporter, ")
    assert wrote.endswith("inputs x, outputs fc, dynamic batch")
    assert checked.startswith("checked: largest absolute difference between onnxruntime and torch: ")
    assert err == RANDOM_NOTE  # and nothing else: no exporter warnings
    assert target.is_file()


def test_trained_weights_go_into_every_kind_of_export(tmp_path, capsys):
    weights = tmp_path / "trained.safetensors"
    assert main.main(["export", RESIDUAL, "--safetensors", str(weights)]) == 0
    out, err = capsys.readouterr()
    assert out == f"wrote {weights}: 23 tensors, 24,138 parameters\n" and err == RANDOM_NOTE
    assert main.main(["export", RESIDUAL, "--weights", str(weights), "--onnx", str(tmp_path / "r.onnx"),
                      "--opset", "18"]) == 0
    out, err = capsys.readouterr()
    assert "ONNX opset 18" in out and err == ""
    assert main.main(["export", RESIDUAL, "--weights", str(weights), "--python", str(tmp_path / "r.py")]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"wrote {tmp_path / 'r.py'} (class ResidualCnn) and its weights " \
                                  f"{tmp_path / 'r.safetensors'}"
    assert out.splitlines()[1].startswith("checked: largest absolute difference between the generated code")
    exported, trained = load_file(tmp_path / "r.safetensors"), load_file(weights)
    assert exported.keys() == trained.keys() and all(torch.equal(exported[k], trained[k]) for k in trained)


def test_an_export_that_does_not_reproduce_the_model_exits_1(tmp_path, capsys, monkeypatch):
    import engine.export

    monkeypatch.setattr(engine.export, "verify_onnx", lambda compiled, path: 0.25)
    assert main.main(["export", CNN, "--onnx", str(tmp_path / "m.onnx")]) == 1
    captured = capsys.readouterr()
    assert "between onnxruntime and torch: 0.25 (batch of 3)" in captured.out
    assert "warning: the export differs from the compiled model by 0.25 (more than 0.001)" in captured.err


def bad_graph(tmp_path) -> str:
    data = json.loads(Path(CNN).read_text())
    data["edges"] = [e for e in data["edges"] if e["target"] != "fc"]  # fc loses its input
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.parametrize("case, expected", [
    ("missing project", "cannot read the file"),
    ("invalid graph", "node 'fc'"),
    ("missing weights", "does not exist"),
    ("weights of another model", "tensor 'conv1.weight' has shape [32, 1, 3, 3], the model needs [16, 1, 3, 3]"),
    ("weights not safetensors", "is not a safetensors weights file"),
    ("opset without onnx", "--opset applies only to --onnx"),
    ("opset too old", "ONNX opset 11 cannot be written: Neurocanvas writes opsets 17 to "),
    ("folder missing", "does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, case, expected):
    residual_weights = tmp_path / "residual.safetensors"
    out = str(tmp_path / "out.onnx")
    argv = {
        "missing project": [str(tmp_path / "nope.json"), "--onnx", out],
        "invalid graph": [bad_graph(tmp_path), "--onnx", out],
        "missing weights": [CNN, "--weights", str(tmp_path / "nope.safetensors"), "--onnx", out],
        "weights of another model": [CNN, "--weights", str(residual_weights), "--onnx", out],
        "weights not safetensors": [CNN, "--weights", CNN, "--python", str(tmp_path / "m.py")],
        "opset without onnx": [CNN, "--python", str(tmp_path / "m.py"), "--opset", "18"],
        "opset too old": [CNN, "--onnx", out, "--opset", "11"],
        "folder missing": [CNN, "--onnx", str(tmp_path / "missing" / "m.onnx")],
    }[case]
    if case == "weights of another model":
        assert main.main(["export", RESIDUAL, "--safetensors", str(residual_weights)]) == 0
        capsys.readouterr()
    assert main.main(["export", *argv]) == 2
    captured = capsys.readouterr()
    assert expected in single_error_line(captured.err)
    assert captured.out == ""
    assert not Path(out).exists()


def test_one_target_is_required(capsys):
    with pytest.raises(SystemExit) as leaving:
        main.main(["export", CNN])
    assert leaving.value.code == 2
    assert "one of the arguments --onnx --python --safetensors is required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main.main(["export", CNN, "--onnx", "a.onnx", "--python", "a.py"])


def run_cli(tmp_path, *argv):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "export", *argv], capture_output=True,
                          text=True, cwd=tmp_path)


def test_a_real_process_exports_cleanly_and_fails_without_a_traceback(tmp_path):
    good = run_cli(tmp_path, CNN, "--onnx", "cnn.onnx")
    assert good.returncode == 0, good.stderr
    assert good.stderr == RANDOM_NOTE  # a fresh interpreter shows no exporter warnings either
    assert len(good.stdout.splitlines()) == 2 and (tmp_path / "cnn.onnx").is_file()
    missing = run_cli(tmp_path, "nope.json", "--onnx", "nope.onnx")
    assert missing.returncode == 2 and missing.stdout == ""
    assert "nope.json: cannot read the file" in single_error_line(missing.stderr)


# ---- outputs that are inputs, failed exports, opsets -------------------------------------------------
@pytest.fixture
def folder_with_inputs(tmp_path):
    """A project and trained weights in tmp_path, and their bytes, to check they survive."""
    project = tmp_path / "p.json"
    project.write_bytes(Path(CNN).read_bytes())
    assert main.main(["export", str(project), "--safetensors", str(tmp_path / "w.safetensors")]) == 0
    return tmp_path, {path.name: path.read_bytes() for path in tmp_path.iterdir()}


@pytest.mark.parametrize("argv, clash", [
    (["--weights", "w.safetensors", "--onnx", "p.json"], "the ONNX file (--onnx) p.json is the same file as the project"),
    (["--python", "p.json"], "the Python file (--python) p.json is the same file as the project"),
    (["--safetensors", "p.json"], "the weights file (--safetensors) p.json is the same file as the project"),
    (["--weights", "w.safetensors", "--onnx", "w.safetensors"], "is the same file as the weights (--weights)"),
    (["--weights", "w.safetensors", "--python", "w.safetensors"], "is the same file as the weights (--weights)"),
    (["--weights", "w.safetensors", "--safetensors", "w.safetensors"], "is the same file as the weights"),
    (["--python", "p.safetensors"], "and the Python file's weights p.safetensors are the same file"),
    (["--python", "link.py"], "the Python file (--python) link.py is the same file as the project"),
    (["--onnx", "hard.json"], "the ONNX file (--onnx) hard.json is the same file as the project"),
])
def test_an_output_that_is_an_input_is_refused_and_nothing_changes(folder_with_inputs, capsys, monkeypatch, argv,
                                                                    clash):
    folder, before = folder_with_inputs
    (folder / "link.py").symlink_to("p.json")
    (folder / "hard.json").hardlink_to(folder / "p.json")
    before.update({name: (folder / name).read_bytes() for name in ("link.py", "hard.json")})
    monkeypatch.chdir(folder)
    capsys.readouterr()
    assert main.main(["export", "p.json", *argv]) == 2
    captured = capsys.readouterr()
    assert clash in single_error_line(captured.err) and captured.out == ""
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before


def test_exporting_code_beside_the_trained_weights_keeps_them(folder_with_inputs, capsys, monkeypatch):
    folder, before = folder_with_inputs
    monkeypatch.chdir(folder)
    assert main.main(["export", "p.json", "--weights", "w.safetensors", "--python", "w.py"]) == 0
    assert (folder / "w.safetensors").read_bytes() == before["w.safetensors"] and (folder / "w.py").is_file()


@pytest.mark.parametrize("target", ["onnx", "python"])
def test_a_failed_export_leaves_no_file_behind_and_an_old_one_untouched(tmp_path, capsys, monkeypatch, target):
    import engine.export

    def broken(compiled, path):
        raise engine.export.ExportError(f"{path} is not a valid model")

    monkeypatch.setattr(engine.export, f"verify_{target}", broken)
    out = tmp_path / ("m.onnx" if target == "onnx" else "m.py")
    assert main.main(["export", CNN, f"--{target}", str(out)]) == 2
    assert f"error: {out} is not a valid model" in single_error_line(capsys.readouterr().err)  # not its temporary
    assert list(tmp_path.iterdir()) == []
    out.write_text("older")
    assert main.main(["export", CNN, f"--{target}", str(out)]) == 2
    assert [p.name for p in tmp_path.iterdir()] == [out.name] and out.read_text() == "older"


def test_python_export_writes_both_files_or_neither(tmp_path, capsys, monkeypatch):
    import engine.export.python_code

    def failing(compiled, path):
        raise engine.export.ExportError("disk full")

    monkeypatch.setattr(engine.export.python_code, "export_safetensors", failing)
    assert main.main(["export", CNN, "--python", str(tmp_path / "m.py")]) == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("opset", ["16", "24", "99999"])
def test_an_opset_the_exporters_cannot_write_is_refused(tmp_path, capsys, opset):
    assert main.main(["export", CNN, "--onnx", str(tmp_path / "m.onnx"), "--opset", opset]) == 2
    line = single_error_line(capsys.readouterr().err)
    assert f"ONNX opset {opset} cannot be written: Neurocanvas writes opsets 17 to 23" in line
    assert list(tmp_path.iterdir()) == []


def test_an_export_never_writes_another_opset_than_asked(tmp_path, capsys, monkeypatch):
    import engine.export.onnx_export as onnx_export

    torchscript = onnx_export._EXPORT["torchscript"]

    def torchscript_refuses(*args):
        raise RuntimeError("unsupported operator")

    def like_dynamo(model, inputs, path, input_names, output_names, opset, dynamic_batch):  # 18 or newer, quickly
        torchscript(model, inputs, path, input_names, output_names, max(opset, 18), dynamic_batch)

    monkeypatch.setitem(onnx_export._EXPORT, "torchscript", torchscript_refuses)
    monkeypatch.setitem(onnx_export._EXPORT, "dynamo", like_dynamo)
    assert main.main(["export", IRIS, "--onnx", str(tmp_path / "m.onnx"), "--opset", "17"]) == 2
    assert "asked for ONNX opset 17, but the dynamo exporter could only write opset 18" in \
        single_error_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []
    assert main.main(["export", IRIS, "--onnx", str(tmp_path / "m.onnx"), "--opset", "20"]) == 0
    assert "ONNX opset 20, dynamo exporter" in capsys.readouterr().out
