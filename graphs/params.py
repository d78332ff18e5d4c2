"""Parameter schemas: the type, default, range and widget hint of one node parameter.

`ParamSpec.coerce` turns a raw value (from JSON or a widget) into the canonical
Python value, or raises `ParamError` with a sentence that names the param.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphs.errors import ParamError, quoted

# torch stores sizes, indices and counts as 64-bit integers: larger ints can never be valid
MAX_INT = 2**63 - 1

# kind -> default widget hint for the inspector
WIDGETS = {
    "int": "spin", "float": "double_spin", "bool": "check", "choice": "combo",
    "int_tuple": "tuple", "int_list": "list", "optional_int_tuple": "tuple",
    "str": "line", "overrides": "overrides",  # a Repeat's unit name and its per-copy changes (graphs.units)
}


@dataclass(frozen=True)
class ParamSpec:
    """One constructor argument of a node type, described as data."""

    name: str
    kind: str  # int | float | bool | choice | int_tuple | optional_int_tuple | int_list | str | overrides
    default: object = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    length: int | None = None  # for int_tuple: how many ints a tuple holds
    optional: bool = False  # None is allowed (e.g. MaxPool stride, Input shape)
    doc: str = ""
    allow_minus_one: bool = False  # int_list: one -1 is allowed (Reshape)
    extra: dict = field(default_factory=dict)

    @property
    def widget(self) -> str:
        return WIDGETS[self.kind]

    def coerce(self, value, node: str | None = None):
        """Return the canonical value, or raise ParamError naming this param."""
        if value is None:
            if self.optional:
                return None
            raise self._error("must be set", node)
        coerce = getattr(self, f"_coerce_{self.kind}")
        return coerce(value, node)

    def _error(self, what: str, node: str | None) -> ParamError:
        return ParamError(f"param '{self.name}' {what}", node=node, param=self.name)

    def _check_range(self, value, node):
        if isinstance(value, int) and abs(value) > MAX_INT:
            raise self._error(f"is too large (torch takes 64-bit integers), got {quoted(value)}", node)
        if self.minimum is not None and value < self.minimum:
            raise self._error(f"must be at least {self.minimum}, got {quoted(value)}", node)
        if self.maximum is not None and value > self.maximum:
            raise self._error(f"must be at most {self.maximum}, got {quoted(value)}", node)
        return value

    def _coerce_int(self, value, node):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise self._error(f"must be an integer, got {quoted(value)}", node)
        return self._check_range(value, node)

    def _coerce_float(self, value, node):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._error(f"must be a number, got {quoted(value)}", node)
        try:
            value = float(value)
        except OverflowError:  # an integer beyond the float range
            raise self._error(f"must be a finite number, got {quoted(value)}", node) from None
        if value != value or value in (float("inf"), float("-inf")):
            raise self._error(f"must be a finite number, got {value}", node)
        return self._check_range(value, node)

    def _coerce_bool(self, value, node):
        if not isinstance(value, bool):
            raise self._error(f"must be true or false, got {quoted(value)}", node)
        return value

    def _coerce_choice(self, value, node):
        if value not in self.choices:
            options = ", ".join(repr(c) for c in self.choices)
            raise self._error(f"must be one of {options}, got {quoted(value)}", node)
        return value

    def _coerce_int_tuple(self, value, node):
        """An int, or a list of `length` ints (like torch's kernel_size=3 or (3, 5))."""
        if isinstance(value, (list, tuple)):
            if len(value) != self.length:
                raise self._error(f"must be an integer or {self.length} integers, got {quoted(list(value))}", node)
            items = [self._coerce_int(v, node) for v in value]
            return items[0] if len(set(items)) == 1 and self.length == 1 else items
        return self._coerce_int(value, node)

    _coerce_optional_int_tuple = _coerce_int_tuple

    def _coerce_int_list(self, value, node):
        if not isinstance(value, (list, tuple)):
            raise self._error(f"must be a list of integers, got {quoted(value)}", node)
        if len(value) > 8:
            raise self._error(f"may hold at most 8 dimensions, got {len(value)}", node)
        items = []
        for v in value:
            if isinstance(v, bool) or not isinstance(v, int):
                raise self._error(f"must be a list of integers, got {quoted(list(value))}", node)
            if v == -1 and self.allow_minus_one:
                items.append(v)
                continue
            items.append(self._check_range(v, node))
        if items.count(-1) > 1:
            raise self._error("may hold at most one -1", node)
        return items

    def _coerce_str(self, value, node):
        if not isinstance(value, str):
            raise self._error(f"must be a string, got {quoted(value)}", node)
        if len(value) > 1000:
            raise self._error("may be at most 1000 characters long", node)
        return value

    def _coerce_overrides(self, value, node):
        """A Repeat's per-copy changes: {"0": {"stride": 2}} (copy index as a string -> unit params); the
        param names and values are checked against the unit by `graphs.units`."""
        if not isinstance(value, dict):
            raise self._error(f"must be an object of copy index -> params, got {quoted(value)}", node)
        result = {}
        for key, params in value.items():
            if not isinstance(key, str) or not key.isdigit() or len(key) > 6:
                raise self._error(f"keys are copy indices such as \"0\", got {quoted(key)}", node)
            if not isinstance(params, dict):
                raise self._error(f"copy {key}: must be an object of param -> value, got {quoted(params)}", node)
            result[str(int(key))] = {name: (list(v) if isinstance(v, (list, tuple)) else v) for name, v in params.items()}
        return result

    def as_tuple(self, value) -> tuple:
        """Expand an int_tuple value to a tuple of `length` ints."""
        if value is None:
            return None
        if isinstance(value, (list, tuple)):
            return tuple(value)
        return (value,) * (self.length or 1)
