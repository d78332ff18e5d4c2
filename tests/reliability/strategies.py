"""Hypothesis strategies for whole graphs built from the entire catalogue, valid and invalid.

`graphs()` draws a random `Graph`: one or two Inputs, then nodes of any catalogue type
wired to earlier nodes, optional losses with their Targets, and sometimes structural
junk (a wire into a taken or unknown port, a cycle, an open port). Types are biased
towards ones whose shape rule accepts the chosen source, so that a good share of the
graphs is valid and reaches the compiler, while the rest exercise every refusal.

Parameter values come from each param's schema (`param_values`), kept small so a
compiled model runs in milliseconds. Node ids are mostly what the editor would
make (`Graph.new_id`), sometimes names that collide with what the compiler or
Python uses (`TRICKY_IDS`). Nothing here imports torch.
"""

from __future__ import annotations

from hypothesis import strategies as st

from engine.shape_rules import TensorSpec, infer_node
from engine.shapes import ShapeInference
from graphs.catalogue import CATALOGUE, NodeType
from graphs.document import Graph
from graphs.errors import GraphError, ShapeError
from graphs.params import ParamSpec

MODEL_TYPES = sorted(name for name, t in CATALOGUE.items() if not t.is_data and not t.is_loss)
LOSS_TYPES = sorted(name for name, t in CATALOGUE.items() if t.is_loss)
CLASS_LOSSES = {"CrossEntropyLoss", "NLLLoss", "MultiMarginLoss"}
LABEL_PORTS = {"target", "targets"}  # the loss ports a Target usually feeds; the others take model outputs
# Element-wise arithmetic changes values: summed indices may leave an Embedding's range,
# which is about values, not shapes, so int64 tensors are never fed to these.
ARITHMETIC = {"Add", "Multiply"}
# Ids the compiler's helpers, Python or torch.nn.Module also use.
TRICKY_IDS = ("add", "add_1", "add_2", "mul", "mul_1", "size", "size_1", "getitem", "getitem_1", "cat",
              "reshape", "permute", "output", "input", "sum", "max", "id", "type", "torch", "self",
              "training", "forward", "eval", "to", "cuda", "graph", "code", "meta", "T_destination",
              "_modules", "_parameters", "_code", "x", "X", "x_1", "_", "__init__", "n0")
SMALL = 6  # the largest size or count a drawn param takes (keeps compiled models tiny)


def chance(draw, one_in: int) -> bool:
    """True about once in `one_in` draws (hypothesis favours the lower bound, so that is the usual case)."""
    return draw(st.integers(1, one_in)) == one_in


def pick(draw, options: list):
    """One of `options`, spread evenly (sampled_from favours the first ones, which would
    leave the types late in the catalogue rarely drawn); shrinks towards the first."""
    return options[draw(st.integers(0, 2**16 - 1)) % len(options)]


def small_ints(spec: ParamSpec, cap: int = SMALL) -> st.SearchStrategy[int]:
    """Integers inside the schema's range, clipped to a small window."""
    lo = -cap if spec.minimum is None else max(int(spec.minimum), -cap)
    hi = cap if spec.maximum is None else min(int(spec.maximum), cap)
    return st.integers(lo, max(lo, hi))


def floats_for(spec: ParamSpec) -> st.SearchStrategy[float]:
    """The default, the bounds, or a value between them."""
    lo = -5.0 if spec.minimum is None else float(spec.minimum)
    hi = lo + 10.0 if spec.maximum is None else float(spec.maximum)
    return st.one_of(st.sampled_from([spec.default, lo, hi]), st.floats(lo, hi, allow_nan=False))


def int_tuples(spec: ParamSpec) -> st.SearchStrategy:
    """An int or `length` ints, as the schema's int_tuple allows (kernel sizes, strides...)."""
    one = small_ints(spec, cap=3 if spec.name != "kernel_size" else 4)
    return st.one_of(one, st.lists(one, min_size=spec.length, max_size=spec.length))


def int_lists(spec: ParamSpec) -> st.SearchStrategy[list]:
    """Shapes (Input, Target, Reshape) and permutations (Permute)."""
    if spec.name == "dims":
        return st.integers(0, 4).flatmap(lambda rank: st.permutations(range(rank + 1))).map(list)
    if spec.allow_minus_one:
        return st.lists(st.sampled_from([-1, 1, 2, 3, 4, 6]), min_size=1, max_size=3).map(
            lambda dims: [d for i, d in enumerate(dims) if d != -1 or dims.index(-1) == i])
    return st.lists(st.integers(1, SMALL), max_size=4)


def param_values(spec: ParamSpec) -> st.SearchStrategy:
    """Valid values of one param: every kind the catalogue uses, None where it is optional."""
    if spec.kind == "int":
        values = small_ints(spec, cap=3 if spec.name in ("inputs", "num_layers") else SMALL)
    elif spec.kind == "float":
        values = floats_for(spec)
    elif spec.kind == "bool":
        values = st.booleans()
    elif spec.kind == "choice":
        values = st.sampled_from(spec.choices)
    elif spec.kind in ("int_tuple", "optional_int_tuple"):
        values = int_tuples(spec)
    elif spec.kind == "int_list":
        values = int_lists(spec)
    else:  # pragma: no cover - a new kind must get a strategy here
        raise AssertionError(f"no strategy for param kind {spec.kind!r}")
    return st.one_of(st.none(), values) if spec.optional else values


def params_for(node_type: NodeType) -> st.SearchStrategy[dict]:
    """A params dict for one node type: each param either left out (its default) or drawn."""
    return st.fixed_dictionaries({}, optional={spec.name: param_values(spec) for spec in node_type.params})


def node_id_for(draw, graph: Graph, type_name: str) -> str:
    """What the editor would name the node, or now and then a tricky id (if the document takes it)."""
    choice = draw(st.one_of(st.none(), st.none(), st.none(), st.sampled_from(TRICKY_IDS)))
    if choice is None or graph.has_node(choice):
        return graph.new_id(type_name)
    return choice


def add_node(draw, graph: Graph, type_name: str, params: dict) -> str | None:
    """Add a node, trying a tricky id first; None when the document refuses the params."""
    for node_id in (node_id_for(draw, graph, type_name), graph.new_id(type_name)):
        try:
            return graph.add_node(type_name, params, node_id)
        except GraphError as error:
            if getattr(error, "param", None):
                return None  # a value the schema refuses (e.g. an Input shape of None is fine, -1 is not)
    return None


def accepts(type_name: str, spec: TensorSpec, params: dict | None = None) -> bool:
    """Whether the type's shape rule (default params unless given) takes `spec` on every input port."""
    node_type = CATALOGUE[type_name]
    try:
        params = node_type.resolve_params(params)
    except GraphError:
        return False
    try:
        infer_node("probe", type_name, params, {port: spec for port in node_type.input_ports(params)})
    except ShapeError:
        return False
    return True


class Builder:
    """Grows one random graph, keeping live shape inference to pick sensible types and sources."""

    def __init__(self, draw):
        self.draw = draw
        self.graph = Graph()
        self.inference = ShapeInference(self.graph)

    def spec_of(self, node_id: str) -> TensorSpec | None:
        info = self.inference.infer_shapes().info.get(node_id)
        return info.outputs.get("out") if info else None

    def port_of(self, node_id: str) -> str:
        """The output a wire from `node_id` leaves by: `out`, or a Split's or Chunk's first piece."""
        ports = self.graph.node(node_id).output_ports()
        return "out" if "out" in ports else ports[0]

    def sources(self, dtype: str | None = None, anything: bool = False) -> list[str]:
        """Nodes whose output may feed a model layer, of `dtype` if given. Losses and Targets
        (labels) may not, so they are left out unless `anything` is set."""
        info = self.inference.infer_shapes().info
        found = []
        for node in self.graph.nodes():
            if not anything and (CATALOGUE[node.type].is_loss or node.type == "Target"):
                continue
            spec = info[node.id].outputs.get("out") if node.id in info else None
            if dtype is None or (spec is not None and spec.dtype == dtype):
                found.append(node.id)
        return found

    def add_inputs(self) -> None:
        """Usually one Input, sometimes two, now and then none; rarely one without a shape."""
        count = 0 if chance(self.draw, 12) else 2 if chance(self.draw, 3) else 1
        for _ in range(count):
            shape = None if chance(self.draw, 20) else self.draw(
                st.lists(st.integers(1, SMALL), max_size=4))
            dtype = self.draw(st.sampled_from(["float32"] * 4 + ["int64"]))
            add_node(self.draw, self.graph, "Input", {"shape": shape, "dtype": dtype})

    def add_layer(self) -> None:
        """One layer wired to earlier nodes (1 time in 10 maybe a loss or a Target, which is wrong),
        its type suited to the first source 3 times in 4."""
        candidates = self.sources(anything=chance(self.draw, 10))
        if not candidates:
            return
        source = pick(self.draw, candidates)
        spec = self.spec_of(source)
        suited = [t for t in MODEL_TYPES if spec is not None and accepts(t, spec)]
        helpful = bool(suited) and not chance(self.draw, 4)
        type_name = pick(self.draw, suited if helpful else MODEL_TYPES)
        params = self.draw(params_for(CATALOGUE[type_name]))
        if helpful and not accepts(type_name, spec, params):
            params = {}  # the defaults, which the type was chosen for
        if type_name in ARITHMETIC:
            candidates = [n for n in candidates if n in self.sources("float32")]
            if not candidates:
                return
            source = source if source in candidates else self.draw(st.sampled_from(candidates))
        node_id = add_node(self.draw, self.graph, type_name, params)
        if node_id is None:
            return
        for i, port in enumerate(self.graph.node(node_id).input_ports()):
            other = source if i == 0 or self.draw(st.booleans()) else self.draw(st.sampled_from(candidates))
            self.graph.connect(other, node_id, self.port_of(other), port)

    def add_loss(self) -> None:
        candidates = [n for n in self.sources() if self.graph.node(n).type != "Input"] or self.sources()
        if not candidates:
            return
        source = pick(self.draw, candidates)
        type_name = pick(self.draw, LOSS_TYPES)
        loss = add_node(self.draw, self.graph, type_name, self.draw(params_for(CATALOGUE[type_name])))
        if loss is None:
            return
        for i, port in enumerate(self.graph.node(loss).input_ports()):
            if port in CATALOGUE[type_name].optional and self.draw(st.booleans()):
                continue  # left open
            if port in LABEL_PORTS:
                target = add_node(self.draw, self.graph, "Target", self.target_params(type_name, self.spec_of(source)))
                if target is None:
                    return
                self.graph.connect(target, loss, target_port=port)
            else:
                feeding = source if i == 0 or self.draw(st.booleans()) else pick(self.draw, candidates)
                self.graph.connect(feeding, loss, self.port_of(feeding), port)

    def target_params(self, loss_type: str, spec: TensorSpec | None) -> dict:
        """Usually the Target a correct model would have, sometimes a random one."""
        if spec is None or chance(self.draw, 5):
            return {"shape": self.draw(st.lists(st.integers(1, SMALL), max_size=3)),
                    "dtype": self.draw(st.sampled_from(["float32", "int64"]))}
        if loss_type in CLASS_LOSSES and spec.shape and not chance(self.draw, 4):
            return {"shape": list(spec.shape[1:]), "dtype": "int64"}
        return {"shape": list(spec.shape), "dtype": "float32"}

    def add_junk(self) -> None:
        """A wire the editor would refuse (loaded files can hold them), or a removed wire."""
        ids = self.graph.node_ids()
        if self.draw(st.booleans()) and self.graph.edges():
            self.graph.disconnect(self.draw(st.sampled_from(self.graph.edges())))
            return
        source, target = pick(self.draw, ids), pick(self.draw, ids)
        ports = self.graph.node(target).input_ports() or ["in"]
        port = self.draw(st.one_of(st.sampled_from(ports), st.sampled_from(["in", "bogus", "in9", "target"])))
        out = self.draw(st.sampled_from(["out", "out", "extra"]))
        self.graph.connect(source, target, out, port, check=False)


@st.composite
def graphs(draw, max_layers: int = 7) -> Graph:
    """A random graph over the whole catalogue; roughly a third come out valid."""
    builder = Builder(draw)
    builder.add_inputs()
    for _ in range(0 if chance(draw, 15) else draw(st.integers(1, max_layers))):
        builder.add_layer()
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        builder.add_loss()
    if builder.graph.node_ids() and chance(draw, 4):
        builder.add_junk()
    builder.inference.close()
    return builder.graph
