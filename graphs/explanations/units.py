"""Explanations of the structure types (`graphs.families.units`): a unit's ports and Repeat."""

from __future__ import annotations

from graphs.explanations.base import Explanation

EXPLANATIONS = {
    "UnitInput": Explanation(
        "One input port of the unit whose graph it sits in. Wherever the unit is used, the wire into the "
        "instance's port of this name continues from here.",
        "port value = the tensor wired into the instance's port",
        "Inside a unit, once for each tensor the block takes (a residual block: one; a U-Net up step: two).",
        "Its node id is the port's name: renaming it renames the port, and wires to the old name no longer fit."),
    "UnitOutput": Explanation(
        "One output port of the unit whose graph it sits in: the tensor wired into it is what the "
        "instance gives on the port of this name.",
        "instance.port = the value wired into this node",
        "Inside a unit, once for each tensor the block returns.",
        "Leaving it unwired: every instance then has an output that carries nothing, which is an error."),
    "Repeat": Explanation(
        "`count` copies of a unit in sequence, each copy's output feeding the next copy's input, like "
        "torch's nn.Sequential of blocks. `overrides` changes params of single copies, such as a first block "
        "with stride 2. Copies share the definition, not the weights.",
        "y = unit_{count-1}(... unit_1(unit_0(x)))",
        "A stage of identical blocks: ResNet's layer1 to layer4, a Transformer's N encoder layers.",
        "Repeating a unit with more than one input or output: a copy's output must fit the next copy's input."),
}
