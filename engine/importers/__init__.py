"""Importers: turn a model made elsewhere into a Neurocanvas project with its weights.

- `engine.importers.onnx_import`: `import_onnx(path)` / `import_onnx_file(model, project)` for ONNX files.
- `engine.importers.torch_import`: `import_module(module, input_shapes)` / `import_torch_class("pkg.mod:Class")`
  for a user's `nn.Module`, traced with torch.fx.
- `engine.importers.onnx_mapping`, `engine.importers.torch_mapping`: the parts of each importer
  (reading the model, the per-operator or per-module mappings).
- `engine.importers.common`: what both share (graph builder, result, errors, verification).
- the layout of an imported graph is `graphs.layout`, the one the editor uses for Ctrl+L.

Both return an `ImportResult` (project, weights keyed `<node_id>.<param>`, name mappings) and
raise `ImportRefused` (a `UserError`) listing everything that cannot be mapped: an import is
exact or does not happen. This package file imports nothing heavy.
"""
