"""The library of ready units: the unit files under `resources/units/`.

Each file holds one or more unit definitions (a project file with a `units` section, or one
definition on its own); every unit in it is offered in the palette under its name. Adding one to a
project copies its definition in, with the units it uses, unless the project has a unit of that
name already: an identical one is reused, a different one makes the library's come in as
`BasicBlock2` (`graphs.units.transfer.paste_units`). Files are read when the palette is filled and when a
unit is added, through the project loader's checks, so a broken file is skipped with a message
rather than breaking the palette.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from graphs.errors import GraphError, ProjectFormatError, printable
from gui.files import RESOURCES
from gui.units import core

LIBRARY_DIR = RESOURCES / "units"
PREFIX = "library:"  # a palette entry's type name for a library unit: library:BasicBlock


@dataclass(frozen=True)
class LibraryUnit:
    name: str
    path: Path
    doc: str = ""

    @property
    def ref(self) -> str:
        return PREFIX + self.name


def library_units(folder: Path = LIBRARY_DIR) -> tuple[list[LibraryUnit], list[str]]:
    """The units of every file in `folder`, by name, and a sentence per file that could not be read."""
    units: dict[str, LibraryUnit] = {}
    problems = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            definitions = read_file(path)
        except (OSError, ValueError, GraphError, ProjectFormatError) as error:
            problems.append(f"{path.name}: {printable(str(error))}")
            continue
        for unit in definitions.values():
            units.setdefault(unit.name, LibraryUnit(unit.name, path, unit.doc))
    return sorted(units.values(), key=lambda u: u.name.lower()), problems


def read_file(path: Path) -> dict:
    """name -> UnitDefinition of the units in one library file (checked by the project loader)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return core.units_from_data(data, Path(path).name)


def library_unit(name: str, folder: Path = LIBRARY_DIR) -> LibraryUnit | None:
    units, _problems = library_units(folder)
    return next((u for u in units if u.name == name), None)


def definitions_to_add(unit: LibraryUnit) -> list:
    """`unit`'s definition and those of the units it uses, from its file, dependencies first."""
    available = read_file(unit.path)
    needed: list[str] = []

    def visit(name: str) -> None:
        if name in needed or name not in available:
            return
        for used in sorted(core.units_used(available[name])):
            visit(used)
        needed.append(name)

    visit(unit.name)
    return [available[name] for name in needed]
