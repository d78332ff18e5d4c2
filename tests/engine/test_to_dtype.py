"""ToDtype, the cast node: its dtype reaches shape inference (an Embedding takes its int64 output and
refuses a float one), it truncates as torch does, it imports from torch.fx (`x.long()`, `x.float()`,
`x.to(torch.int64)`) and ONNX (Cast), and it lets a CSV's integer-codes column feed an Embedding from
training through `predict` to the exported Python code and ONNX file."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from torch import nn

import main
from engine.compiler import compile_graph
from engine.data import load_dataset
from engine.data.tabular import prepare_rows
from engine.importers.torch_import import import_module
from engine.predict import Predictor
from engine.shape_rules import TensorSpec, infer_node
from graphs import Graph, load_project


def test_the_output_has_the_input_shape_and_the_chosen_dtype():
    for dtype in ("int64", "float32"):
        info = infer_node("cast", "ToDtype", {"dtype": dtype}, {"in": TensorSpec((3, 2), "float32")})
        assert info.outputs["out"] == TensorSpec((3, 2), dtype)


def _embedding_after(dtype: str) -> Graph:
    g = Graph()
    g.add_node("Input", {"shape": [5]}, "x")
    g.add_node("ToDtype", {"dtype": dtype}, "cast")
    g.add_node("Embedding", {"num_embeddings": 10, "embedding_dim": 3}, "emb")
    g.connect("x", "cast")
    g.connect("cast", "emb")
    return g


def test_an_embedding_takes_a_cast_to_int64_and_refuses_a_float_with_a_clear_message():
    from engine.shapes import infer

    accepted = infer(_embedding_after("int64"))
    assert accepted.valid and accepted.info["emb"].outputs["out"] == TensorSpec((5, 3))
    refused = infer(_embedding_after("float32"))
    assert [(e.node, e.message) for e in refused.errors] == [
        ("emb", "Embedding 'emb' needs int64 indices, got float32; set the Input's dtype to int64, or cast with a ToDtype node "
                "(dtype int64)")]


def test_the_compiled_cast_truncates_toward_zero_like_torch():
    g = Graph()
    g.add_node("Input", {"shape": [4]}, "x")
    g.add_node("ToDtype", {"dtype": "int64"}, "cast")
    g.connect("x", "cast")
    x = torch.tensor([[2.9, -2.9, 0.0, 7.0]])
    out = compile_graph(g).model(x)
    assert out.dtype == torch.int64 and out.tolist() == [[2, -2, 0, 7]]
    assert torch.equal(out, x.to(torch.int64))


class _Casts(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 3)

    def forward(self, x):
        a = self.emb(x[:, 0].long())
        b = self.emb(x[:, 1].to(torch.int64))
        c = self.emb(x[:, 2].to(dtype=torch.long)).float()
        return a + b + c


def test_torch_casts_import_as_todtype_with_the_same_outputs():
    result = import_module(_Casts(), [(3,)])
    casts = [n for n in result.project.graph.nodes() if n.type == "ToDtype"]
    assert sorted(n.params["dtype"] for n in casts) == ["float32", "int64", "int64", "int64"]


def test_a_cast_to_another_dtype_or_a_device_is_refused_by_name():
    class ToInt32(nn.Module):
        def forward(self, x):
            return x.to(torch.int32)

    with pytest.raises(Exception, match="float32 or torch.int64"):
        import_module(ToInt32(), [(3,)])


CITIES = 40


def _table(path, rows: int = 120):
    lines = ["age,city,churn"]
    for i in range(rows):
        city = (i * 7) % CITIES
        lines.append(f"{20 + i % 30},town{city:02d},{'yes' if city % 2 else 'no'}")
    path.write_text("\n".join(lines) + "\n")


def _codes_project(folder) -> dict:
    """x [age, city code] -> Select(city) -> ToDtype(int64) -> Embedding -> Concat with Slice(age) -> Linear."""
    nodes = [{"id": "x", "type": "Input"},
             {"id": "city", "type": "Select", "params": {"dim": 1, "index": 1}},
             {"id": "codes", "type": "ToDtype", "params": {"dtype": "int64"}},
             {"id": "emb", "type": "Embedding", "params": {"num_embeddings": CITIES + 1, "embedding_dim": 4}},
             {"id": "age", "type": "Slice", "params": {"dim": 1, "start": 0, "end": 1}},
             {"id": "both", "type": "Concat", "params": {"inputs": 2, "dim": 1}},
             {"id": "fc", "type": "Linear", "params": {"out_features": 2}},
             {"id": "y", "type": "Target"}, {"id": "loss", "type": "CrossEntropyLoss"}]
    edges = [("x", "city", None), ("city", "codes", None), ("codes", "emb", None), ("x", "age", None),
             ("age", "both", "in0"), ("emb", "both", "in1"), ("both", "fc", None), ("fc", "loss", "input"),
             ("y", "loss", "target")]
    dataset = {"name": "csv", "path": "data.csv", "target": "churn", "columns": {"city": "codes"}}
    project = {"format": "neurocanvas", "version": 1, "name": "codes", "nodes": nodes,
               "edges": [{"source": s, "target": t, **({"target_port": p} if p else {})} for s, t, p in edges],
               "training": {"dataset": dataset, "val_split": 0.25, "batch_size": 16, "epochs": 1, "seed": 0,
                            "device": "cpu", "optimizer": {"type": "Adam", "lr": 0.05}}}
    (folder / "p.json").write_text(json.dumps(project))
    return dataset


def test_a_codes_column_feeds_an_embedding_through_training_predict_and_python_export(tmp_path, capsys):
    _table(tmp_path / "data.csv")
    dataset = _codes_project(tmp_path)
    data = load_dataset(dataset, tmp_path, val_split=0.25, seed=0)
    assert data.feature_names == ["age", "city"]  # the graph's Select index 1 is the code
    codes = torch.cat([data.x_train[:, 1], data.x_val[:, 1]])
    assert codes.min() >= 0 and codes.max() <= CITIES and torch.equal(codes, codes.round())

    project, run = tmp_path / "p.json", tmp_path / "run"
    assert main.main(["train", str(project), "--out", str(run), "--quiet"]) == 0
    weights = run / "weights.safetensors"

    rows = tmp_path / "new.csv"
    rows.write_text("age,city\n30,town03\n41,nowhere\n")  # an unseen city is code 0, its own embedding row
    capsys.readouterr()
    assert main.main(["predict", str(project), "--weights", str(weights), str(rows), "--json"]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(answers) == 2

    predictor = Predictor.load(load_project(project), weights)
    x = prepare_rows(data.preprocessing, [{"age": "30", "city": "town03"}, {"age": "41", "city": "nowhere"}])
    assert x[1, 1] == 0 and x[0, 1] > 0
    with torch.no_grad():
        expected = predictor.model(x)
    emb = dict(predictor.model.named_modules())["emb"]
    assert emb.weight.shape == (CITIES + 1, 4)

    code = tmp_path / "model.py"
    assert main.main(["export", str(project), "--weights", str(weights), "--python", str(code)]) == 0
    assert ".long()" in code.read_text()
    spec = importlib.util.spec_from_file_location("codes_model", code)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    exported = module.load(str(code.with_suffix(".safetensors")))
    with torch.no_grad():
        assert torch.allclose(exported(x), expected, atol=1e-6)

    onnx_file = tmp_path / "model.onnx"  # the export checks itself on whole-number codes within the Embedding
    assert main.main(["export", str(project), "--weights", str(weights), "--onnx", str(onnx_file)]) == 0
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert torch.allclose(torch.from_numpy(got), expected, atol=1e-5)
