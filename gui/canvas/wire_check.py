"""Where a wire being dragged may end: the verdict for each port, worked out once per drag.

A port is
- `REFUSED` when the document would not take the wire (an input that already has one, a cycle,
  output to output): the reason is the document's own;
- `MISMATCH` when the document would take it but the node could not use what it carries: the
  node's shape rule (`engine.shape_rules`, torch-free) runs on the inputs it would get, shape and
  dtype included, and its sentence says why ("Conv2d 'conv1' expects input [C, H, W], got [64]");
- `OK` otherwise, or when what the wire carries is not known yet (its source has no shape).

An input the node does not have a wire into yet is judged with the dragged tensor standing in, and
only an error about the dragged port itself counts then; an error the node already has does not
count against the wire.
"""

from __future__ import annotations

from engine.shape_rules import infer_node
from graphs.document import Edge
from graphs.errors import GraphError, ShapeError

OK, MISMATCH, REFUSED = "ok", "mismatch", "refused"


class WireCheck:
    """Verdicts for wires of one drag; `replacing` is the wire picked up by its input end, if any."""

    def __init__(self, controller, replacing: Edge | None = None):
        self.graph = controller.scope_graph
        self.result = controller.scope_result
        self.replacing = replacing
        self.structure = self.graph
        if replacing is not None:  # judge against the graph without the wire being moved
            self.structure = self.graph.copy()
            self.structure.disconnect(replacing)
        self.feeding = {(e.target, e.target_port): e for e in self.structure.edges()}

    def verdict(self, edge: Edge) -> tuple[str, str]:
        """(OK | MISMATCH | REFUSED, why not) for making `edge`."""
        if edge != self.replacing:
            ok, why = self.structure.can_connect(edge.source, edge.source_port, edge.target, edge.target_port)
            if not ok:
                return REFUSED, why
        why = self.shape_problem(edge)
        return (MISMATCH, why) if why else (OK, "")

    def _output(self, node_id: str, port: str):
        info = self.result.info.get(node_id)
        return info.outputs.get(port) if info is not None else None

    def shape_problem(self, edge: Edge) -> str:
        """Why the target node could not take what `edge` carries, or "" when it could (or we cannot tell)."""
        carried = self._output(edge.source, edge.source_port)
        if carried is None:
            return ""
        node = self.graph.node(edge.target)
        try:
            ports, params = node.input_ports(), node.resolved_params()
        except GraphError:
            return ""
        inputs, stand_in = {}, False
        for port in ports:
            feeding = self.feeding.get((node.id, port)) if port != edge.target_port else None
            spec = self._output(feeding.source, feeding.source_port) if feeding is not None else None
            stand_in |= spec is None and port != edge.target_port
            inputs[port] = spec if spec is not None else carried
        try:
            infer_node(node.id, node.type, params, inputs, node.spec.op)
        except ShapeError as error:
            if error.port == edge.target_port:
                return error.message
            already = any(e.message == error.message for e in self.result.errors_for(node.id))
            return "" if stand_in or already else error.message
        except (GraphError, LookupError, TypeError, ValueError):  # a rule that cannot judge these inputs
            return ""
        return ""
