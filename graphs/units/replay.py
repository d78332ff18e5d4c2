"""One expansion of a unit's body, replayed for every other copy or instance that expands it alike.

A Repeat's copies (and instances of a unit) that get the same param values expand to the same layers,
wires and scopes under another prefix. `_Builder` (graphs.units.expand) expands the first such body as
usual while recording what it adds (`record`), and gives every later one the recording with its own
prefix, instance, path and label put in (`replay`): no params substituted, checked or copied again. The
copies share their layers' params objects (as the document does, nobody changes params in place: every
change replaces them), which lets the live checks resolve and infer each distinct layer once
(`resolutions`, and `engine.shapes.ShapeInference`'s outcomes by resolved params).
A body whose expansion reports an error is never recorded: its messages name the copy.
The recording lives for one expansion, so a changed definition or value can never reuse a stale one.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphs.catalogue import CATALOGUE
from graphs.document import Node
from graphs.errors import GraphError
from graphs.node_type import SHARES


@dataclass
class Body:
    """What one unit body's expansion added, under the ids of the scope it was recorded in."""

    base: str  # the recorded scope's prefix, without its trailing dot ("blocks.0")
    outer: str
    path: tuple[str, ...]
    label: str
    nodes: list[Node]
    edges: list[tuple[str, str, str, str]]
    passthrough: dict[str, str]
    origins: dict  # flat id -> Origin
    scopes: list  # [Scope]
    scope_outputs: dict[str, dict[str, tuple[str, str]]]


def key(graph, ctx) -> tuple:
    """Two bodies with one key expand alike (their ids, instance, path and label aside)."""
    return id(graph), repr(ctx.values), ctx.trainable, ctx.lr_mult, ctx.offset, ctx.stack


def record(builder, graph, ctx) -> Body | None:
    """Expand `graph` into `ctx` through `builder` as usual; the recording, None when it reported an error."""
    result = builder.result
    kept = builder.nodes, builder.edges, builder.passthrough, result.origins, result.scopes, result.scope_outputs
    errors = len(result.errors)
    builder.base += len(builder.nodes)
    builder.nodes, builder.edges, builder.passthrough = [], [], {}
    result.origins, result.scopes, result.scope_outputs = {}, [], {}
    try:
        builder._scope(graph, ctx)
        body = Body(ctx.prefix[:-1], ctx.outer, ctx.path, ctx.label, builder.nodes, builder.edges,
                    builder.passthrough, result.origins, result.scopes, result.scope_outputs)
    finally:
        builder.base -= len(kept[0])
        added = builder.nodes, builder.edges, builder.passthrough, result.origins, result.scopes, result.scope_outputs
        builder.nodes, builder.edges, builder.passthrough, result.origins, result.scopes, result.scope_outputs = kept
        _merge(builder, *added)
    return body if len(result.errors) == errors else None


def replay(builder, body: Body, ctx) -> None:
    """Add `body` to `builder` as the expansion of the scope `ctx` (same key) would add it."""
    base, cut = ctx.prefix[:-1], len(body.base)
    path, skip, label, drop, outer = ctx.path, len(body.path), ctx.label, len(body.label), ctx.outer
    nodes = []
    for node in body.nodes:
        params = node.params
        if params.get(SHARES):
            params = {**params, SHARES: base + params[SHARES][cut:]}
        nodes.append(Node(base + node.id[cut:], node.type, params, node.position, node.trainable, node.lr_mult))
    if builder.layers_only:
        builder.nodes += nodes
        return
    edges = [(base + source[cut:], source_port, base + target[cut:], target_port)
             for source, source_port, target, target_port in body.edges]
    _merge(builder, nodes, edges,
           {base + node_id[cut:]: why for node_id, why in body.passthrough.items()},
           {base + node_id[cut:]: type(origin)(outer, path + origin.path[skip:], label + origin.scope_label[drop:])
            for node_id, origin in body.origins.items()},
           [type(scope)(base + scope.prefix[cut:], scope.unit, base + scope.parent[cut:], scope.doc)
            for scope in body.scopes],
           {base + prefix[cut:]: {port: (base + source[cut:], source_port) for port, (source, source_port) in ports.items()}
            for prefix, ports in body.scope_outputs.items()})


def _merge(builder, nodes, edges, passthrough, origins, scopes, scope_outputs) -> None:
    result = builder.result
    builder.nodes += nodes
    builder.edges += edges
    builder.passthrough.update(passthrough)
    result.origins.update(origins)
    result.scopes += scopes
    result.scope_outputs.update(scope_outputs)


def resolutions(nodes) -> dict[int, tuple[dict, dict]]:
    """id(params) -> (params, those params resolved) for the catalogue layers among `nodes`, each distinct
    params object resolved once (a layer whose params do not resolve is left out: validation reports it)."""
    found: dict[int, tuple[dict, dict] | None] = {}
    for node in nodes:
        params = node.params
        if id(params) in found:
            continue
        spec = CATALOGUE.get(node.type)
        try:
            found[id(params)] = None if spec is None else (params, spec.resolve_params(params, node.id))
        except GraphError:
            found[id(params)] = None
    return {ident: kept for ident, kept in found.items() if kept is not None}
