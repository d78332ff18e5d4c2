"""The ONNX importer's parts; `engine.importers.onnx_import` is the public entry point.

- `importer`: `OnnxImporter`, which drives the import and dispatches each node to its handler.
- `reading`: initializers, inputs, live nodes, constant folding.
- `activation_chains`: element-wise chains recognised as one activation (GELU, SiLU, ...).
- `norm_chains`: layer normalisation written out as separate ops, recognised as one LayerNorm.
- `elementwise_ops`, `layer_ops`, `shape_ops`, `recurrent_ops`: the `_op_<OpType>` handlers by kind.
- `values`: the values bound to ONNX tensor names (views, shape arithmetic) and ONNX node readers.
"""
