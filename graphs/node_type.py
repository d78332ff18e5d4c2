"""What a node type is, as data: `NodeType` (ports, params schema, inferred constructor
arguments) and the helpers that declare params, shared by the catalogue's family modules."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphs.errors import ParamError, quoted
from graphs.params import ParamSpec

DTYPES = ("float32", "int64")
# A node's optional `shares` entry: the id of the node whose weights it uses (see graphs.validate).
# It sits among the params so every edit, undo, copy and file keeps it, but is no constructor argument.
SHARES = "shares"


@dataclass(frozen=True)
class NodeType:
    """The description of one node type."""

    name: str
    category: str
    params: tuple[ParamSpec, ...] = ()
    inputs: tuple[str, ...] = ("in",)
    outputs: tuple[str, ...] = ("out",)
    doc: str = ""
    # constructor argument -> (input port, dimension index) of the incoming shape
    inferred: dict = field(default_factory=dict)
    variadic: bool = False  # inputs are in0..in{n-1}, n = params["inputs"]
    key_params: tuple[str, ...] = ()  # shown on the node face
    optional: tuple[str, ...] = ()  # input ports that may be left open (the op says what an open one means)
    # a type from the project's own code (graphs.custom_types): the engine's entry for it, opaque here;
    # None for a catalogue type, whose entry is engine.ops.OPS[name]
    op: object = field(default=None, compare=False, repr=False)

    @property
    def is_loss(self) -> bool:
        return self.category == "Losses"

    @property
    def is_data(self) -> bool:
        return self.category == "Data"

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def explanation(self):
        """What this type does, its formula, when to use it, a common mistake (`graphs.explanations`)."""
        from graphs.explanations import explain

        return explain(self.name)

    def param(self, name: str) -> ParamSpec:
        for spec in self.params:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def input_ports(self, params: dict | None = None) -> list[str]:
        if self.variadic:
            count = (params or {}).get("inputs", self.param("inputs").default)
            return [f"in{i}" for i in range(count)]
        return list(self.inputs)

    def output_ports(self, params: dict | None = None) -> list[str]:
        return list(self.outputs)

    def resolve_params(self, params: dict | None, node: str | None = None) -> dict:
        """All params with defaults filled in, each value checked against its schema."""
        params = dict(params or {})
        params.pop(SHARES, None)
        known = {spec.name for spec in self.params}
        for name in params:
            if name not in known:
                hint = f"; known params: {', '.join(sorted(known))}" if known else ""
                raise ParamError(f"{self.name} has no param {quoted(name)}{hint}", node=node, param=name)
        return {spec.name: spec.coerce(params.get(spec.name, spec.default), node) for spec in self.params}

    def check_params(self, params: dict | None, node: str | None = None) -> dict:
        """Check the given params (only those given) and return them in canonical form."""
        return self.checked_and_resolved(params, node)[0]

    def checked_and_resolved(self, params: dict | None, node: str | None = None) -> tuple[dict, dict]:
        """(`check_params(params)`, `resolve_params(params)`) from one pass over the schema."""
        resolved = self.resolve_params(params, node)
        checked = {name: resolved[name] for name in (params or {}) if name != SHARES}
        shared = (params or {}).get(SHARES)
        if shared is not None:
            if not isinstance(shared, str) or not shared:
                raise ParamError(f"'{SHARES}' must be the id of another node, got {quoted(shared)}", node=node,
                                 param=SHARES)
            checked[SHARES] = shared
        return checked, resolved


def int_param(name, default, minimum=None, maximum=None, doc="", optional=False):
    return ParamSpec(name, "int", default, minimum, maximum, doc=doc, optional=optional)


def float_param(name, default, minimum=None, maximum=None, doc=""):
    return ParamSpec(name, "float", default, minimum, maximum, doc=doc)


def bool_param(name, default, doc=""):
    return ParamSpec(name, "bool", default, doc=doc)


def choice_param(name, default, choices, doc=""):
    return ParamSpec(name, "choice", default, choices=tuple(choices), doc=doc)


def tuple_param(name, default, length, minimum=0, optional=False, doc=""):
    kind = "optional_int_tuple" if optional else "int_tuple"
    return ParamSpec(name, kind, default, minimum, length=length, optional=optional, doc=doc)


def shape_param(name, default=None, doc="", minus_one=False, optional=True):
    return ParamSpec(name, "int_list", default, 1, optional=optional, doc=doc, allow_minus_one=minus_one)
