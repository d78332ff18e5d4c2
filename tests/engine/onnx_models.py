"""Small ONNX models for the import tests: built by hand, run in onnxruntime, and the node types an
import makes."""

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper


def ort_run(model, feeds: dict) -> dict:
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def types(result) -> list[str]:
    return [n.type for n in result.project.graph.nodes()]


def make_model(nodes, inputs, outputs, initializers=(), opset=17) -> onnx.ModelProto:
    def info(spec):
        name, elem, shape = spec if len(spec) == 3 else (spec[0], TensorProto.FLOAT, spec[1])
        return helper.make_tensor_value_info(name, elem, shape)

    graph = helper.make_graph(nodes, "test", [info(i) for i in inputs], [info(o) for o in outputs],
                              [numpy_helper.from_array(np.asarray(v), name) for name, v in initializers])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
