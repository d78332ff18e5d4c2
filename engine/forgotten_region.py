"""A region of nodes that live shape inference forgot in one pass, kept so it can be given back whole.

A wire taken away, or moved to a source the node below cannot take, leaves every node below it without
shapes: `engine.shapes.ShapeInference` forgets them in one walk and keeps here what they had. When a later
pass brings the region's first node back to the very outcome it had (the wire put back, as undo does, or
moved back to where it was), every node below would get back the inputs and outcome it had, unless
something it reads changed meanwhile. What may have changed is known: the nodes the forgetting pass
touched outside the region (`stale`), and the nodes edited since (the next pass's dirty nodes, which must
lie outside the region). So the region comes back in one dict update, and only the consumers of `stale`
are visited again, instead of thousands of nodes each looking up its cached outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ForgottenRegion:
    root: str  # the node the walk started from; every other node of the region is downstream of it
    info: dict = field(default_factory=dict)  # node -> the NodeInfo it had
    inputs: dict = field(default_factory=dict)  # node -> the input specs it had
    errors: dict = field(default_factory=dict)  # node -> the ShapeError it had
    stale: frozenset = frozenset()  # nodes outside the region whose outcome the forgetting pass may have changed

    def __contains__(self, node_id: str) -> bool:
        return node_id in self.info or node_id in self.errors

    def untouched_by(self, edited) -> bool:
        """Whether none of the `edited` nodes (params or wires changed) lies in the region, but its root
        (whose outcome is checked when it comes back)."""
        return all(node_id == self.root or node_id not in self for node_id in edited)

    def came_back(self, info: dict, inputs: dict, errors: dict) -> bool:
        """Whether the root's outcome now is the very one it had (the same objects, from its cache)."""
        root = self.root
        return (info.get(root) is self.info.get(root) and inputs.get(root) is self.inputs.get(root)
                and errors.get(root) is self.errors.get(root))
