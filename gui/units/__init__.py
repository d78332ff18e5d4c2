"""Units in the editor: Group and Ungroup, editing a unit's definition in place, the palette's
Units section, and how an instance is drawn. The document side (definitions, instances, Repeat,
expansion) is `graphs.units`; `gui.units.core` is the one place that calls it."""
