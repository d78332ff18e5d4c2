"""Node types grouped by family, one module each (`TYPES`, a list of `NodeType`), declared with the
helpers of `graphs.node_type`; `graphs.catalogue` gathers them after its own first types."""
