"""Hostile ONNX files: importing one either gives a project or raises a one-line `UserError`; never another
exception, a hang, or a giant allocation.

The files start from a small valid model (a Linear as MatMul + Add, a ReLU, a Conv with a sparse
initializer) and are damaged the way a broken exporter or a hostile file would be: an initializer's
dims replaced (negative, huge, overflowing), its data cut or padded, its element type changed, its
data moved to an external file that is not there, a sparse initializer's dims or indices made absurd,
a node made to read its own output (a cycle) or a tensor nothing provides, the opset or a domain
replaced. The work runs under an address-space limit of 2 GiB above what the process uses, so an
allocation sized from the file's claims fails the test instead of the machine.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from onnx import ModelProto, TensorProto, helper, numpy_helper

import main
from engine.errors import UserError
from engine.importers.onnx_import import import_onnx
from engine.importers.onnx_mapping import stored_tensors
from tests.address_space import address_space_limit
from tests.reliability.guards import one_line, time_limit
from tests.reliability.tally import count, examples

SUBJECT = "hostile ONNX files"
IMPORT_SECONDS = 20.0  # a hang guard: these models import in well under a second
INT64 = st.integers(-(2**63), 2**63 - 1)
DIMS = st.lists(st.one_of(st.integers(-3, 6), st.sampled_from([2**31, 2**40, 10**5, 2**62]), INT64), max_size=4)


def base_model() -> ModelProto:
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="matmul"),
             helper.make_node("Add", ["h", "b"], ["a"], name="add"),
             helper.make_node("Relu", ["a"], ["r"], name="relu"),
             helper.make_node("Reshape", ["r", "shape"], ["img"], name="reshape"),
             helper.make_node("Conv", ["img", "k"], ["y"], name="conv")]
    dense = [numpy_helper.from_array(rng.normal(size=(6, 4)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(size=4).astype(np.float32), "b"),
             numpy_helper.from_array(np.array([-1, 1, 2, 2], np.int64), "shape")]
    sparse = helper.make_sparse_tensor(helper.make_tensor("k", TensorProto.FLOAT, [2], [0.5, -1.0]),
                                       helper.make_tensor("k_indices", TensorProto.INT64, [2], [0, 3]), [3, 1, 2, 2])
    graph = helper.make_graph(nodes, "hostile", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 1, 1])], dense,
                              sparse_initializer=[sparse])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_the_undamaged_model_imports():
    result = import_onnx(base_model())
    assert [n.type for n in result.project.graph.nodes()] == ["Input", "Linear", "ReLU", "Reshape", "Conv2d"]


# ---- damage ------------------------------------------------------------------------

def tensors(model: ModelProto) -> list:
    graph = model.graph
    return [*graph.initializer, *(s.values for s in graph.sparse_initializer), *(s.indices for s in graph.sparse_initializer)]


def set_dims(draw, model):
    tensor = draw(st.sampled_from(tensors(model) + list(model.graph.sparse_initializer)))
    del tensor.dims[:]
    tensor.dims.extend(draw(DIMS))
    return f"dims of {getattr(tensor, 'name', 'the sparse tensor')} -> {list(tensor.dims)}"


def resize_data(draw, model):
    tensor = draw(st.sampled_from(tensors(model)))
    raw = bytes(tensor.raw_data) or bytes(16)
    if draw(st.booleans()) and tensor.data_type in (TensorProto.FLOAT, TensorProto.INT64):
        tensor.ClearField("raw_data")
        field = helper.tensor_dtype_to_field(tensor.data_type)
        getattr(tensor, field).extend([0] * draw(st.integers(0, 40)))
        return f"{tensor.name}: raw data replaced by {len(getattr(tensor, field))} {field}"
    tensor.raw_data = raw[:draw(st.integers(0, len(raw)))] + b"\0" * draw(st.integers(0, 9))
    return f"{tensor.name}: {len(tensor.raw_data)} bytes of raw data"


def retype(draw, model):
    tensor = draw(st.sampled_from(tensors(model)))
    tensor.data_type = draw(st.one_of(st.sampled_from(list(TensorProto.DataType.values())), st.integers(0, 99)))
    return f"{tensor.name}: element type {tensor.data_type}"


def external(draw, model):
    tensor = draw(st.sampled_from(tensors(model)))
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", draw(st.sampled_from(["missing.bin", "../../etc/passwd", "/dev/zero", ""]))
    return f"{tensor.name}: external data at {entry.value!r}"


def sparse_indices(draw, model):
    indices = model.graph.sparse_initializer[0].indices
    values = draw(st.lists(INT64, max_size=4))
    indices.ClearField("raw_data")
    del indices.int64_data[:], indices.dims[:]
    indices.int64_data.extend(values)
    indices.dims.extend([len(values)])
    return f"sparse indices {values}"


def rewire(draw, model):
    nodes = model.graph.node
    node = draw(st.sampled_from(list(nodes)))
    names = [o for n in nodes for o in n.output] + ["nowhere", ""]
    index = draw(st.integers(0, len(node.input) - 1))
    node.input[index] = draw(st.sampled_from(names))
    return f"{node.name} input {index} <- {node.input[index]!r}"


def reopset(draw, model):
    model.opset_import[0].version = draw(st.one_of(st.integers(-2, 30), INT64))
    return f"opset {model.opset_import[0].version}"


def redomain(draw, model):
    node = draw(st.sampled_from(list(model.graph.node)))
    node.domain = draw(st.sampled_from(["com.unknown", "ai.onnx.ml", "ai.onnx", "", "\x00", "neurocanvas.fused"]))
    return f"{node.name} in domain {node.domain!r}"


DAMAGE = [set_dims, set_dims, resize_data, resize_data, retype, external, sparse_indices, rewire, rewire,
          reopset, redomain]


@st.composite
def hostile_models(draw) -> ModelProto:
    model = base_model()
    for _ in range(draw(st.integers(1, 3))):
        note(draw(st.sampled_from(DAMAGE))(draw, model))
    return model


@pytest.fixture
def bounded_memory():
    with address_space_limit():
        yield


@settings(max_examples=examples(150), deadline=None)
@given(model=hostile_models())
def imports_or_refuses(model):
    try:
        with time_limit(IMPORT_SECONDS, "importing a hostile ONNX model"):
            import_onnx(model)
    except UserError as error:
        message = one_line(str(error))
        assert "Traceback" not in message
        outcome = "refused with UserError"
    else:
        outcome = "imported"
    count(SUBJECT, outcome)


def test_a_damaged_onnx_model_imports_or_is_refused_with_one_line(bounded_memory):
    imports_or_refuses()


@settings(max_examples=examples(100), deadline=None)
@given(data=st.data())
def damaged_bytes_import_or_are_refused(folder, data):
    raw = bytearray(base_model().SerializeToString())
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    raw = bytes(raw[:data.draw(st.one_of(st.just(len(raw)), st.integers(1, len(raw))))])  # cut short, or not
    note(repr(raw))
    path = folder / "damaged.onnx"
    path.write_bytes(raw)
    try:
        with time_limit(IMPORT_SECONDS, "importing a damaged ONNX file"):
            import_onnx(path)
    except UserError as error:
        assert one_line(str(error))
        count(SUBJECT + ": bytes damaged", "refused with UserError")
    else:
        count(SUBJECT + ": bytes damaged", "imported")


def test_damaged_bytes_import_or_are_refused_with_one_line(bounded_memory, tmp_path):
    damaged_bytes_import_or_are_refused(tmp_path)


# ---- the cases of the issue, each once --------------------------------------------

def refusal(model) -> str:
    with pytest.raises(UserError) as error:
        import_onnx(model)
    return one_line(str(error.value))


def test_initializer_data_that_do_not_fill_their_dims_name_the_initializer():
    model = base_model()
    weight = model.graph.initializer[0]
    weight.ClearField("raw_data")
    weight.float_data.extend([1.0] * 5)
    del weight.dims[:]
    weight.dims.extend([4, 3])
    assert refusal(model) == ("initializer 'w' holds 5 values of data, but its dims [4, 3] need 12; "
                              "the file is damaged")


def test_a_sparse_initializer_claiming_1e5_by_1e5_is_refused_before_allocating(bounded_memory):
    model = base_model()
    sparse = model.graph.sparse_initializer[0]
    del sparse.dims[:]
    sparse.dims.extend([10**5, 10**5])
    assert refusal(model).startswith("sparse initializer 'k' claims dims [100000, 100000], which take 40.0 GB "
                                     "as a dense tensor")


def test_negative_and_overflowing_dims_are_refused():
    model = base_model()
    model.graph.initializer[1].dims[0] = -4
    assert refusal(model) == "initializer 'b' has negative dims [-4]; the file is damaged"
    model = base_model()
    model.graph.initializer[0].dims[:] = [2**62, 2**62]
    assert "initializer 'w' holds 96 bytes of data, but its dims [4611686018427387904, 4611686018427387904]" \
        in refusal(model)


def test_external_data_that_was_not_loaded_is_refused():
    model = base_model()
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    assert refusal(model).startswith("initializer 'w' keeps its data in an external file that was not loaded")


def test_a_cyclic_graph_names_a_node_on_the_cycle():
    model = base_model()
    model.graph.node[1].input[0] = "r"  # add reads relu, which reads add
    assert refusal(model) == ("hostile: the graph is cyclic: Relu 'relu' -> Add 'add' -> Relu 'relu'; "
                              "an ONNX graph must be acyclic")


def test_a_tensor_nothing_provides_is_named():
    model = base_model()
    model.graph.node[2].input[0] = "nowhere"
    assert refusal(model) == ("hostile: tensor 'nowhere' is read but no node, initializer or graph input provides it; "
                              "the file is damaged")


def test_nodes_out_of_order_still_import():
    model = base_model()
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(reversed(nodes))
    assert [n.type for n in import_onnx(model).project.graph.nodes()][-1] == "Conv2d"


@pytest.mark.parametrize("version", [0, 5, 99])
def test_an_unsupported_opset_is_refused(version):
    model = base_model()
    model.opset_import[0].version = version
    assert refusal(model).startswith(f"hostile uses ONNX opset {version}; Neurocanvas imports opsets 6 to ")


def test_an_unknown_domain_is_listed():
    model = base_model()
    model.graph.node[2].domain = "com.unknown"
    assert "unmapped operators (no Neurocanvas node): com.unknown.Relu (1)" in refusal(model)


# ---- external data -------------------------------------------------------------------

@pytest.fixture
def saved_with_external_data(tmp_path):
    """base_model() saved as model.onnx with every initializer's data in weights.bin beside it."""
    onnx.save(base_model(), str(tmp_path / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    return tmp_path / "model.onnx"


def edit_external(path, change) -> None:
    model = onnx.load(str(path), load_external_data=False)
    change(model.graph.initializer[0])
    onnx.save(model, str(path))


def test_external_data_beside_the_model_is_read(saved_with_external_data):
    weights = import_onnx(saved_with_external_data).weights
    assert weights["matmul.weight"].numpy().tolist() == import_onnx(base_model()).weights["matmul.weight"].numpy().tolist()


def test_external_data_cut_short_is_refused_before_reading(saved_with_external_data):
    data = saved_with_external_data.with_name("weights.bin")
    data.write_bytes(data.read_bytes()[:50])
    assert refusal(saved_with_external_data) == (
        f"{saved_with_external_data}: tensor 'w' needs 96 bytes from 'weights.bin', which holds 50 bytes from "
        "offset 0; the file is damaged")


@pytest.mark.parametrize("location", ["../outside.bin", "missing.bin", "/dev/zero"])
def test_external_data_elsewhere_is_refused(saved_with_external_data, location):
    (saved_with_external_data.parent.parent / "outside.bin").write_bytes(bytes(1000))

    def move(tensor):
        next(e for e in tensor.external_data if e.key == "location").value = location
    edit_external(saved_with_external_data, move)
    message = refusal(saved_with_external_data)
    assert message.startswith(f"{saved_with_external_data}: ") and ("tensor 'w'" in message or "cannot be read" in message)


def test_external_data_larger_than_memory_is_refused_before_reading(saved_with_external_data, monkeypatch):
    monkeypatch.setattr(stored_tensors, "available_bytes", lambda: 100)
    assert refusal(saved_with_external_data) == (
        f"{saved_with_external_data}: the model's external data take 1.4e-07 GB, and this computer has "
        "1e-07 GB of memory available")


def cyclic(model):
    model.graph.node[1].input[0] = "r"


def unknown_domain(model):
    model.graph.node[2].domain = "com.unknown"


def newer_opset(model):
    model.opset_import[0].version = 99


def damaged_initializer(model):
    model.graph.initializer[0].raw_data = b"\0" * 7


@pytest.mark.parametrize("damage, expected", [
    (cyclic, "the graph is cyclic: Relu 'relu' -> Add 'add' -> Relu 'relu'"),
    (unknown_domain, "com.unknown.Relu (1)"), (newer_opset, "uses ONNX opset 99"),
    (damaged_initializer, "initializer 'w' holds 7 bytes of data, but its dims [6, 4] need 96")])
def test_import_onnx_exits_2_with_one_line_and_writes_nothing(damage, expected, tmp_path, capsys):
    model = base_model()
    damage(model)
    source = tmp_path / "model.onnx"
    onnx.save(model, str(source))
    assert main.main(["import-onnx", str(source), str(tmp_path / "out.json")]) == 2
    message = one_line(capsys.readouterr().err)
    assert message.startswith("neurocanvas import-onnx: error: ") and expected in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
