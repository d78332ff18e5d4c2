"""Which node ids are allowed: Python names the compiled model can use exactly as they are.

A node id becomes the attribute holding the node's module (`model.conv1`, hence the
`state_dict` key `conv1.weight`), the name of its value in the generated `forward` and
in exported code, and an ONNX tensor name. So an id is an ASCII identifier that is not
a Python keyword or builtin, does not start with `_` (torch keeps its private state
there), and is none of the names torch's `GraphModule` or its generated code already
use. This module imports no torch: the list is kept current by a test against torch.
"""

from __future__ import annotations

import builtins
import keyword
import re

MAX_LENGTH = 100
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_PYTHON_NAMES = frozenset(dir(builtins)) | frozenset(keyword.kwlist)

# Public attributes of torch.fx.GraphModule (an id of a module node becomes one more).
MODULE_ATTRIBUTES = frozenset("""
    T_destination add_module add_submodule apply bfloat16 buffers call_super_init children code compile
    cpu cuda delete_all_unused_submodules delete_submodule double dump_patches eval extra_repr float
    forward get_buffer get_extra_state get_parameter get_submodule graph half ipu load_state_dict meta
    modules mtia named_buffers named_children named_modules named_parameters parameters print_readable
    recompile register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
    register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter register_state_dict_post_hook
    register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule shape_env share_memory
    state_dict to to_empty to_folder train training type xpu zero_grad
""".split())
# Names the generated forward itself uses besides the builtins.
CODE_NAMES = frozenset({"self", "torch", "inf", "nan", "device", "NoneType", "pytree", "fx_pytree"})


def id_problem(node_id) -> str | None:
    """Why `node_id` cannot name a node, or None when it can."""
    if not isinstance(node_id, str):
        return "must be a string"
    if len(node_id) > MAX_LENGTH:
        return f"is longer than {MAX_LENGTH} characters"
    if not _IDENTIFIER.fullmatch(node_id):
        return "is not valid: use letters, digits and '_', starting with a letter"
    if node_id in _PYTHON_NAMES:
        return "is a Python name (a keyword or builtin); pick another"
    if node_id in MODULE_ATTRIBUTES or node_id in CODE_NAMES:
        return "is a name torch's compiled model already uses; pick another"
    return None
