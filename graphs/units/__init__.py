"""Units: reusable blocks defined once in a project and used as nodes (see docs/units.md).

- `UnitDefinition`: a name, a doc, params (name -> default) and an inner `Graph` whose
  `UnitInput` / `UnitOutput` nodes are its ports.
- `graph.units` (`graphs.unit_registry.UnitRegistry`): the document's definitions; the document's
  `add_unit`, `replace_unit`, `remove_unit`, `rename_unit` change them, with events.
- `expand(graph) -> Expanded`: the flat graph the engine compiles, with dotted ids
  (`layer1.0.conv1`) and the way back from a flat node to the instance it came from.
"""

from graphs.families.units import REPEAT, UNIT_INPUT, UNIT_OUTPUT
from graphs.unit_registry import RecursiveUnitError, UnitRegistry, UnitUseError, is_ref
from graphs.units.definition import UnitDefinition
from graphs.units.expand import Expanded, Origin, Scope, expand

__all__ = [
    "REPEAT", "UNIT_INPUT", "UNIT_OUTPUT", "Expanded", "Origin", "RecursiveUnitError", "Scope", "UnitDefinition",
    "UnitRegistry", "UnitUseError", "expand", "is_ref",
]
