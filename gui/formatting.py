"""Text for numbers, shapes and param values, shared by the canvas, inspector and summary."""

from __future__ import annotations

from engine.shape_rules import fmt
from graphs.params import ParamSpec


def count(n: int | None) -> str:
    """1234 -> '1.2k', 2_500_000 -> '2.5M'; None -> '–'."""
    if n is None:
        return "–"
    for size, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            value = n / size
            return f"{value:.1f}{suffix}" if value < 100 else f"{value:.0f}{suffix}"
    return str(n)


def grouped(n: int | None) -> str:
    """1234567 -> '1,234,567' (exact, for tables)."""
    return "–" if n is None else f"{n:,}"


def shape(value) -> str:
    return "?" if value is None else fmt(value)


def param_value(spec: ParamSpec, value) -> str:
    """How a param's value reads on a node face: 3, 3×5, [1, 8, 8], 0.5, auto."""
    if value is None:
        return "from data" if spec.kind == "int_list" else "auto"
    if spec.kind == "int_list":
        return fmt(value)
    if spec.kind in ("int_tuple", "optional_int_tuple") and isinstance(value, (list, tuple)):
        return "×".join(str(v) for v in value)
    if spec.kind == "float":
        return f"{value:g}"
    if spec.kind == "bool":
        return "yes" if value else "no"
    return str(value)


def parse_ints(text: str) -> list[int]:
    """'1, 8, 8' or '[1 8 8]' or '(3,3)' -> [1, 8, 8]; raises ValueError with a sentence."""
    cleaned = text.strip().strip("[]()").replace(",", " ").replace("×", " ").replace("x", " ")
    try:
        return [int(part) for part in cleaned.split()]
    except ValueError:
        raise ValueError(f"expected whole numbers separated by commas, got '{text.strip()}'") from None
