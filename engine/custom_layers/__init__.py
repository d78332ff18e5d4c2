"""Custom layers: the `nn.Module` classes of a project's own Python file, each a node type.

A project names its code in `"custom_code"` (or keeps a `custom_layers.py` beside it; see
`graphs.custom_types`). Its classes become node types of that project only: ports from
`forward`'s arguments, params from `__init__`'s arguments (their defaults and annotations), the
class docstring as the doc. Shapes come from running the module on torch's `meta` device; the
compiler builds the class itself; the Python export copies the file beside the model.

Running a project's code needs trust: `code_loader(trusted=False)` refuses, naming the files, before
anything is executed (the CLI's `--trust-code`, the editor's trust dialog). This package's
`__init__` and `trust` import no torch; `loading` (which executes the code) does.
"""

from __future__ import annotations

from engine.custom_layers.trust import code_loader, load_trusted_project

__all__ = ["code_loader", "load_trusted_project"]
