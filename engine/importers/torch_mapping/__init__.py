"""The PyTorch importer's parts; `engine.importers.torch_import` is the public entry point.

- `importer`: `TorchImporter`, which walks the traced fx graph and dispatches each node.
- `modules`: submodule calls (nn.Linear, nn.Conv2d, nn.LSTM, ...) and their params.
- `functions`: function and tensor-method calls (`+`, torch.cat, x.view, F.relu, ...).
- `values`: what an fx value is bound to besides a tensor (a shape, a layer's result tuple).
- `tracing`: tracing for import (custom modules that cannot be traced are kept whole), parts named as written.
- `unmapped`: the parts with no node, grouped as a user names them, for one refusal listing them all.
"""
