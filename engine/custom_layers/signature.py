"""A custom `nn.Module` class as a `NodeType`: its ports, params and doc, read from the class itself.

- Input ports: `forward`'s arguments after `self`, in order, named after them (one with a default may
  be left open: the module gets None there); a `forward` of one tensor has the usual port `in`. Output ports: the class attribute `outputs` (a tuple of names, when
  `forward` returns that many tensors), else one port `out`.
- Params: `__init__`'s arguments after `self`, with their defaults and annotations: `int`, `float`,
  `bool`, `str`, `Literal["a", "b"]` (a choice), `tuple[int, int]` (a fixed number of ints: one int or
  that many), `tuple[int, ...]` / `list[int]` (a list of ints); `X | None` allows None. Without an
  annotation the default's type decides. An argument without a default starts at 0, 0.0, False, ""
  or [] in a new node. `in_channels` and `in_features` are not params: like the built-in layers', they
  are taken from the first input's shape (its dimension 0, and its last).
- Doc: the class's own docstring.
"""

from __future__ import annotations

import inspect
import types
import typing

from engine.custom_layers.op import CustomOp
from engine.errors import UserError
from graphs.custom_types import CATEGORY, CodeFile
from graphs.errors import GraphError, printable
from graphs.node_type import NodeType
from graphs.params import ParamSpec

INFERRED = {"in_channels": 0, "in_features": -1}  # constructor argument -> dimension of the first input
_PLAIN = {int: "int", float: "float", bool: "bool", str: "str"}
_STARTS = {"int": 0, "float": 0.0, "bool": False, "str": "", "int_list": [], "int_tuple": 0}
_SEQUENCES = (tuple, list)


def node_type_for(cls: type, file: CodeFile) -> NodeType:
    where = _where(cls, file)
    inputs, optional = forward_ports(cls, where)
    params, inferred = [], {}
    hints = _hints(cls.__init__)
    for arg in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if arg.kind in (arg.VAR_POSITIONAL, arg.VAR_KEYWORD):
            continue
        if arg.name in INFERRED:
            inferred[arg.name] = (inputs[0], INFERRED[arg.name])
            continue
        params.append(param_spec(arg, hints.get(arg.name, arg.annotation), where))
    outputs = _outputs(cls, where)
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "") or f"The class {cls.__name__} of {file.listed}."
    op = CustomOp(cls=cls, file=file, ports=tuple(inputs), inferred=tuple(inferred.items()), outputs=outputs)
    return NodeType(cls.__name__, CATEGORY, tuple(params), tuple(inputs), outputs, doc, inferred,
                    key_params=tuple(spec.name for spec in params[:3]), optional=tuple(optional), op=op)


def forward_ports(cls: type, where: str) -> tuple[list[str], list[str]]:
    """(input ports, those that may be left open) from `forward`'s arguments."""
    ports, optional = [], []
    for arg in list(inspect.signature(cls.forward).parameters.values())[1:]:
        if arg.kind == arg.VAR_POSITIONAL:
            raise UserError(f"{where}: {cls.__name__}.forward takes *{arg.name}; name each input tensor instead")
        if arg.kind in (arg.KEYWORD_ONLY, arg.VAR_KEYWORD):
            if arg.kind == arg.KEYWORD_ONLY and arg.default is arg.empty:
                raise UserError(f"{where}: {cls.__name__}.forward's keyword-only argument {arg.name!r} has no "
                                "default; make it a positional argument (an input port)")
            continue
        ports.append(arg.name)
        if arg.default is not arg.empty:
            optional.append(arg.name)
    if not ports:
        raise UserError(f"{where}: {cls.__name__}.forward takes no input; a node needs at least one input tensor")
    if len(ports) == 1:  # one input: the usual port name, as every built-in layer has
        return ["in"], ["in"] if optional else []
    return ports, optional


def param_spec(arg: inspect.Parameter, annotation, where: str) -> ParamSpec:
    """The ParamSpec of one `__init__` argument, or a UserError naming it."""
    has_default = arg.default is not arg.empty
    kind, optional, extra = _kind(annotation, arg.default if has_default else _NO_DEFAULT)
    if kind is None:
        raise UserError(f"{where}: cannot tell what argument {arg.name!r} of __init__ takes: annotate it as int, "
                        "float, bool, str, a Literal of strings or a tuple of ints")
    doc = "" if has_default else "required by __init__ (no default): set it"
    default = arg.default if has_default else extra["choices"][0] if kind == "choice" else _STARTS[kind]
    if isinstance(default, tuple):
        default = list(default)
    if kind == "float" and isinstance(default, int) and not isinstance(default, bool):
        default = float(default)
    spec = ParamSpec(arg.name, kind, default, optional=optional, doc=doc, **extra)
    try:
        spec.coerce(default)
    except GraphError as error:
        raise UserError(f"{where}: the default of argument {arg.name!r} does not fit its annotation: "
                        f"{error.message}") from None
    return spec


def _kind(annotation, default) -> tuple[str | None, bool, dict]:
    """(ParamSpec kind, whether None is allowed, extra ParamSpec fields) for an annotation (or a default)."""
    if isinstance(annotation, str):
        annotation = _STRING_ANNOTATIONS.get(annotation.replace(" ", ""), annotation)
    optional = default is None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            return None, False, {}
        kind, _, extra = _kind(rest[0], default if default is not None else _NO_DEFAULT)
        return kind, True, extra
    if annotation in _PLAIN:
        return _PLAIN[annotation], optional, {}
    if origin is typing.Literal and args and all(isinstance(a, str) for a in args):
        return "choice", optional, {"choices": tuple(args)}
    if annotation in _SEQUENCES or origin in _SEQUENCES:
        if not args or args[-1] is Ellipsis or origin is list:
            return ("int_list", optional, {}) if all(a in (int, Ellipsis) for a in args) else (None, False, {})
        if all(a is int for a in args):
            return "int_tuple", optional, {"length": len(args)}
        return None, False, {}
    if annotation is inspect.Parameter.empty and default is not None and default is not _NO_DEFAULT:
        if isinstance(default, bool):
            return "bool", False, {}
        if type(default) in _PLAIN:
            return _PLAIN[type(default)], False, {}
        if isinstance(default, _SEQUENCES) and all(isinstance(v, int) and not isinstance(v, bool) for v in default):
            return "int_list", False, {}
    return None, False, {}


_NO_DEFAULT = object()
_STRING_ANNOTATIONS = {"int": int, "float": float, "bool": bool, "str": str, "tuple": tuple, "list": list,
                       "tuple[int,...]": tuple[int, ...], "list[int]": list[int], "tuple[int,int]": tuple[int, int],
                       "tuple[int,int,int]": tuple[int, int, int], "int|None": typing.Optional[int],
                       "float|None": typing.Optional[float], "str|None": typing.Optional[str]}


def _hints(function) -> dict:
    """The resolved annotations of `function` (strings when they cannot be resolved)."""
    try:
        return typing.get_type_hints(function)
    except Exception:  # a name the annotation uses is not importable: fall back to the raw annotations
        return dict(getattr(function, "__annotations__", {}))


def _outputs(cls: type, where: str) -> tuple[str, ...]:
    outputs = getattr(cls, "outputs", ("out",))
    if isinstance(outputs, str) or not isinstance(outputs, (tuple, list)) or not outputs \
            or not all(isinstance(name, str) and name.isidentifier() for name in outputs) \
            or len(set(outputs)) != len(outputs):
        raise UserError(f"{where}: {cls.__name__}.outputs must be a tuple of distinct port names, such as "
                        "(\"out\", \"state\")")
    return tuple(outputs)


def _where(cls: type, file: CodeFile) -> str:
    try:
        line = inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        line = "?"
    return f"{printable(str(file.path))}: line {line}"
