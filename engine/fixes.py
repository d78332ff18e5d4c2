"""One-click fixes for shape errors: edits that make a broken graph valid.

`suggest(graph, result, error)` proposes `Fix(title, edits)` for one error of
`engine.shapes.infer`. Edits are plain, JSON-able dicts applied through the
Graph's public API by `apply_edits`:
`{"op": "add_node", "id", "type", "params", "position"}`, `{"op": "remove_node", "node"}`,
`{"op": "connect" | "disconnect", "source", "source_port", "target", "target_port"}`,
`{"op": "set_params", "node", "params"}` (the listed params change, the others stay).
A fix is only offered when applying it to a copy of the graph removes that error
and introduces no other (checked by inferring the copy again). This module imports no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from engine.shapes import InferenceResult, infer
from graphs.catalogue import CATALOGUE
from graphs.document import Graph
from graphs.errors import GraphError

__all__ = ["Fix", "affordable", "apply_edits", "fixes_for", "suggest"]

CHECK_BUDGET = 5000  # nodes x errors up to which `check` lists fixes: each try infers the whole graph
UPSTREAM_LIMIT = 32  # how many nodes above the error the Linear search looks at
LOSS_SWAPS = ("CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss", "NLLLoss", "L1Loss")
FLOAT_DTYPES = ("float32", "int64")


@dataclass
class Fix:
    """One suggested fix: a title a person reads, and the edits that make it."""

    title: str
    edits: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"title": self.title, "edits": self.edits}


def apply_edits(graph: Graph, edits: list[dict]) -> None:
    """Apply `edits` to `graph` in order, through its public API (GraphError when one doesn't fit)."""
    for edit in edits:
        op = edit["op"]
        if op == "add_node":
            graph.add_node(edit["type"], edit.get("params") or {}, edit["id"], tuple(edit.get("position", (0, 0))))
        elif op == "remove_node":
            graph.remove_node(edit["node"])
        elif op == "connect":
            graph.connect(edit["source"], edit["target"], edit["source_port"], edit["target_port"])
        elif op == "disconnect":
            match = [e for e in graph.in_edges(edit["target"])
                     if (e.source, e.source_port, e.target_port) == (edit["source"], edit["source_port"],
                                                                      edit["target_port"])]
            if not match:
                raise GraphError(f"no wire from '{edit['source']}' to '{edit['target']}.{edit['target_port']}'",
                                 node=edit["target"])
            graph.disconnect(match[0])
        elif op == "set_params":
            graph.set_params(edit["node"], {**graph.node(edit["node"]).params, **edit["params"]})
        else:
            raise GraphError(f"unknown edit {op!r}")


def _wire(op: str, edge) -> dict:
    return {"op": op, "source": edge.source, "source_port": edge.source_port, "target": edge.target,
            "target_port": edge.target_port}


def _insert(graph: Graph, edge, type_name: str, params: dict) -> list[dict]:
    """The edits that put a new node of `type_name` on wire `edge`."""
    new_id = graph.new_id(type_name)
    a, b = graph.node(edge.source).position, graph.node(edge.target).position
    return [_wire("disconnect", edge),
            {"op": "add_node", "id": new_id, "type": type_name, "params": params,
             "position": [round((a[0] + b[0]) / 2, 2), round((a[1] + b[1]) / 2 + 60, 2)]},
            {"op": "connect", "source": edge.source, "source_port": edge.source_port, "target": new_id,
             "target_port": "in"},
            {"op": "connect", "source": new_id, "source_port": "out", "target": edge.target,
             "target_port": edge.target_port}]


def _upstream(graph: Graph, node_id: str) -> list[str]:
    """`node_id` and the nodes above it, nearest first (bounded)."""
    order, seen = [node_id], {node_id}
    for current in order:
        for edge in graph.in_edges(current):
            if edge.source not in seen and len(order) < UPSTREAM_LIMIT:
                seen.add(edge.source)
                order.append(edge.source)
    return order


def _spatial_dims(type_name: str) -> int | None:
    """n for ConvNd / ConvTransposeNd / MaxPoolNd / AvgPoolNd, else None."""
    for prefix in ("ConvTranspose", "Conv", "MaxPool", "AvgPool"):
        if type_name.startswith(prefix) and type_name[len(prefix):] in ("1d", "2d", "3d"):
            return int(type_name[len(prefix)])
    return None


# ---- candidate generators: each proposes, `suggest` keeps what verifies ----
def _flatten_before_linear(graph, result, node_id):
    for upstream in _upstream(graph, node_id):
        if graph.node(upstream).type != "Linear":
            continue
        spec = result.inputs.get(upstream, {}).get("in")
        edge = graph.edge_into(upstream, "in")
        if spec is not None and edge is not None and len(spec.shape) > 1:
            yield Fix(f"Insert Flatten before Linear '{upstream}'", _insert(graph, edge, "Flatten", {}))


def _shapes_for(size: int, n: int) -> list[list[int]]:
    """[C, *n spatial] shapes with size values, square spatial dims first, fewest channels first."""
    shapes = []
    for channels in range(1, size + 1):
        if size % channels == 0:
            side = round((size // channels) ** (1 / n))
            if side > 1 and side ** n == size // channels:
                shapes.append([channels] + [side] * n)
        if len(shapes) == 2:
            break
    return shapes + [[size] + [1] * n, [1] * n + [size]]


def _reshape_before_conv(graph, result, node_id):
    n = _spatial_dims(graph.node(node_id).type)
    spec = result.inputs.get(node_id, {}).get("in")
    edge = graph.edge_into(node_id, "in")
    if n is None or spec is None or edge is None or len(spec.shape) >= n + 1:
        return
    source = graph.node(edge.source)
    if source.type == "Flatten":  # the Flatten that made the vector: take it out
        above = graph.edge_into(source.id, "in")
        if above is not None:
            yield Fix(f"Remove Flatten '{source.id}' before '{node_id}'",
                      [_wire("disconnect", edge), _wire("connect", type(edge)(above.source, node_id,
                                                                              above.source_port, edge.target_port))]
                      + ([{"op": "remove_node", "node": source.id}] if len(graph.out_edges(source.id)) == 1 else []))
    size = math.prod(spec.shape)
    for shape in _shapes_for(size, n):
        if len(spec.shape) == 1:
            yield Fix(f"Insert Unflatten to {shape} before '{node_id}'",
                      _insert(graph, edge, "Unflatten", {"dim": 1, "unflattened_size": shape}))
        else:
            yield Fix(f"Insert Reshape to {shape} before '{node_id}'", _insert(graph, edge, "Reshape", {"shape": shape}))


def _match_channels(graph, result, node_id):
    node = graph.node(node_id)
    if node.type not in ("Add", "Multiply"):
        return
    inputs = result.inputs.get(node_id, {})
    specs = [(port, spec) for port, spec in inputs.items() if spec.shape]
    for port, spec in specs:
        for _, other in specs:
            if len(other.shape) != len(spec.shape) or other.shape[0] == spec.shape[0]:
                continue
            wanted, edge = other.shape[0], graph.edge_into(node_id, port)
            producer = _channel_producer(graph, edge.source)
            if producer is not None:
                param = "out_features" if producer.type == "Linear" else "out_channels"
                yield Fix(f"Set {param} of '{producer.id}' to {wanted}",
                          [{"op": "set_params", "node": producer.id, "params": {param: wanted}}])
            rank = len(spec.shape)
            if rank == 1:
                yield Fix(f"Insert Linear({wanted}) before '{node_id}.{port}'",
                          _insert(graph, edge, "Linear", {"out_features": wanted}))
            elif 2 <= rank <= 4:
                yield Fix(f"Insert 1x1 Conv{rank - 1}d({wanted}) before '{node_id}.{port}'",
                          _insert(graph, edge, f"Conv{rank - 1}d", {"out_channels": wanted, "kernel_size": 1}))


def _channel_producer(graph: Graph, node_id: str):
    """The Linear or convolution whose size sets the channels reaching `node_id`, looking up through
    one-input nodes that keep them (BatchNorm, activations, Dropout), or None."""
    for _ in range(UPSTREAM_LIMIT):
        node = graph.node(node_id)
        params = node.resolved_params()
        if node.type == "Linear" or "out_channels" in params:
            return node
        edges = graph.in_edges(node_id)
        if len(edges) != 1 or node.spec.is_loss:
            return None
        node_id = edges[0].source
    return None


def _fit_kernel(graph, result, node_id):
    node = graph.node(node_id)
    n = _spatial_dims(node.type)
    spec = result.inputs.get(node_id, {}).get("in")
    if n is None or spec is None or len(spec.shape) != n + 1 or node.type.startswith("ConvTranspose"):
        return
    params = node.resolved_params()
    sizes = spec.shape[1:]
    kernel = _tuple(params["kernel_size"], n)
    dilation = _tuple(params.get("dilation", 1), n)
    padding = _tuple(params.get("padding", 0), n)
    effective = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if all(s + 2 * p >= e for s, p, e in zip(sizes, padding, effective)):
        return
    same = [(e - 1) // 2 for e in effective]  # keeps the size at stride 1, as the layers after may need
    fitting = [max(p, math.ceil((e - s) / 2)) for s, p, e in zip(sizes, padding, effective)]
    keeping = [min(k, 2 * p + 1) if p else k for k, p in zip(kernel, padding)]  # the kernel the padding was for
    largest = [min(k, (s + 2 * p - 1) // d + 1) for k, s, p, d in zip(kernel, sizes, padding, dilation)]
    for name, values in (("padding", same), ("padding", fitting), ("kernel_size", keeping), ("kernel_size", largest)):
        if values != (padding if name == "padding" else kernel):
            yield Fix(f"Set {name} of '{node_id}' to {_scalar(values)}",
                      [{"op": "set_params", "node": node_id, "params": {name: _scalar(values)}}])


def _tuple(value, n: int) -> list[int]:
    return list(value) if isinstance(value, (list, tuple)) else [value] * n


def _scalar(values: list[int]):
    """One int when every axis has the same value (as the file would say it), else the list."""
    return values[0] if len(set(values)) == 1 else values


def _switch_loss(graph, result, node_id):
    node = graph.node(node_id)
    if not node.spec.is_loss:
        return
    target = graph.edge_into(node_id, "target")
    if target is not None and graph.node(target.source).type == "Target":  # the smaller edit first
        dtype = graph.node(target.source).resolved_params()["dtype"]
        for other in FLOAT_DTYPES:
            if other != dtype:
                yield Fix(f"Set dtype of Target '{target.source}' to {other}",
                          [{"op": "set_params", "node": target.source, "params": {"dtype": other}}])
    edges = graph.in_edges(node_id) + graph.out_edges(node_id)
    for other in LOSS_SWAPS:
        if other == node.type:
            continue
        keep = {k: v for k, v in node.params.items() if k in {p.name for p in CATALOGUE[other].params}}
        yield Fix(f"Switch '{node_id}' to {other}",
                  [{"op": "remove_node", "node": node_id},
                   {"op": "add_node", "id": node_id, "type": other, "params": keep, "position": list(node.position)},
                   *(_wire("connect", e) for e in edges)])


GENERATORS = (_flatten_before_linear, _reshape_before_conv, _match_channels, _fit_kernel, _switch_loss)


def _key(error: GraphError) -> tuple:
    return error.node, error.port, error.message


def _verified(graph: Graph, before: set, hidden: set, error: GraphError, fix: Fix) -> bool:
    """Applying `fix` to a copy removes `error` and introduces no other, except on the nodes in `hidden`."""
    trial = graph.copy()
    try:
        apply_edits(trial, fix.edits)
    except GraphError:
        return False
    after = {_key(e) for e in infer(trial).errors}
    return _key(error) not in after and all(key in before - {_key(error)} or key[0] in hidden for key in after)


def suggest(graph: Graph, result: InferenceResult, error: GraphError, limit: int = 4,
            reveal: bool = False) -> list[Fix]:
    """The fixes for `error` (one of `result.errors`) that verify, best first, at most `limit`.

    With `reveal`, a fix may also uncover errors on nodes the error hid (nodes never inferred because
    their inputs were unknown) and another error on its own node: `fix --all` goes on to fix those. The editor and `check` offer only
    fixes that leave no new error."""
    if error.node is None or not graph.has_node(error.node):
        return []
    before = {_key(e) for e in result.errors}
    failing = {e.node for e in result.errors}
    hidden = ({n for n in graph.node_ids() if n not in result.info and n not in failing} | {error.node}
              if reveal else set())
    fixes, titles = [], set()
    for generate in GENERATORS:
        for fix in generate(graph, result, error.node):
            if fix.title not in titles and _verified(graph, before, hidden, error, fix):
                titles.add(fix.title)
                fixes.append(fix)
                if len(fixes) == limit:
                    return fixes
    return fixes


def affordable(graph: Graph, result: InferenceResult) -> bool:
    """Whether looking for every error's fixes is quick (a 400-node graph: about 0.3 s an error)."""
    return len(graph) * len(result.errors) <= CHECK_BUDGET


def fixes_for(graph: Graph, result: InferenceResult | None = None) -> list[tuple[GraphError, list[Fix]]]:
    """Every error of `graph` with its verified fixes."""
    result = infer(graph) if result is None else result
    return [(error, suggest(graph, result, error)) for error in result.errors]
