"""Hypothesis strategies for corrupted and hostile project files, as the bytes on disk.

A file starts as a real project (a random graph from `strategies.graphs`, or one of
the bundled examples) and goes through one to four mutations: a value anywhere
replaced by something of the wrong type, a huge or negative number, NaN, a hostile
string or deeply nested junk; keys deleted or added; duplicate node ids; unknown node
types and ports; edges to missing nodes; cycles; a newer or nonsensical `version`.
The JSON text may then be truncated, get non-UTF-8 bytes, a BOM or another encoding.
Integers longer than Python will print and nesting deeper than `json` will write are
spliced into the text directly (the `HUGE` and `DEEP` markers).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from hypothesis import strategies as st

from graphs.catalogue import CATALOGUE
from graphs.project import Project
from tests.reliability.strategies import graphs

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [json.loads(p.read_text()) for p in sorted((ROOT / "resources" / "examples").glob("*.json"))]
HUGE = "HUGE_INT_"  # a string value "HUGE_INT_5000" becomes the 5000-digit integer 10**4999 in the text
DEEP = "DEEP_NEST_"  # "DEEP_NEST_3000" becomes 3000 levels of nested lists and objects
HOSTILE_STRINGS = ["", " ", "\x00", "\ud800", "x\ny", "é", "\u2028", "🙂", "Conv3d", "relu", "in", "out",
                   "target", "in99", "nodes", "-1", "1e400", "a" * 5000, "NaN"]
NUMBERS = [-1, 0, 1, -(2 ** 63), 2 ** 31, 2 ** 40, 2 ** 62, 2 ** 63 - 1, 2 ** 63, 2 ** 64, 10 ** 100, 0.5, -0.0,
           1e308, -1e308, float("nan"), float("inf"), float("-inf"), [2 ** 40, 2 ** 40], [2 ** 62] * 8]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.sampled_from(NUMBERS),
    st.text(max_size=12), st.sampled_from(HOSTILE_STRINGS),
    st.integers(300, 6000).map(lambda digits: f"{HUGE}{digits}"),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.one_of(st.text(max_size=8), st.sampled_from(["id", "type", "params", "shape", "source"])), inner,
    max_size=4), max_leaves=12)


def nested_text(depth: int) -> str:
    """JSON text of `depth` levels of alternating objects and lists around a 1."""
    opening = "".join('{"k": ' if level % 2 else "[" for level in range(depth))
    closing = "".join("}" if level % 2 else "]" for level in reversed(range(depth)))
    return f"{opening}1{closing}"


junk = st.one_of(values, st.integers(1, 3000).map(lambda depth: f"{DEEP}{depth}"))


def paths(doc, prefix=()) -> list[tuple]:
    """Every path (tuple of keys and indexes) into a JSON document, the root included."""
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += paths(value, (*prefix, index))
    return found


def _parent(doc, path):
    for key in path[:-1]:
        doc = doc[key]
    return doc


def replace_value(draw, doc):
    path = draw(st.sampled_from(paths(doc)))
    if not path:
        return draw(junk)
    _parent(doc, path)[path[-1]] = draw(junk)
    return doc


def delete_value(draw, doc):
    path = draw(st.sampled_from([p for p in paths(doc) if p] or [()]))
    if path:
        del _parent(doc, path)[path[-1]]
    return doc


def add_key(draw, doc):
    containers = [p for p in paths(doc) if isinstance(_get(doc, p), dict)]
    if containers:
        target = _get(doc, draw(st.sampled_from(containers)))
        target[draw(st.one_of(st.text(max_size=10), st.sampled_from(["params", "position", "version"])))] = \
            draw(junk)
    return doc


def _get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def _nodes(doc) -> list:
    nodes = doc.get("nodes") if isinstance(doc, dict) else None
    return nodes if isinstance(nodes, list) else []


def _edges(doc) -> list:
    edges = doc.get("edges") if isinstance(doc, dict) else None
    return edges if isinstance(edges, list) else []


def _ids(doc) -> list[str]:
    return [n["id"] for n in _nodes(doc) if isinstance(n, dict) and isinstance(n.get("id"), str)] or ["x"]


def duplicate_node(draw, doc):
    nodes = _nodes(doc)
    if nodes:
        nodes.append(copy.deepcopy(draw(st.sampled_from(nodes))))
    return doc


def retype_node(draw, doc):
    nodes = [n for n in _nodes(doc) if isinstance(n, dict)]
    if nodes:
        draw(st.sampled_from(nodes))["type"] = draw(st.one_of(st.sampled_from(sorted(CATALOGUE)), scalars))
    return doc


def set_param(draw, doc):
    """A param of the node's own type (or any name) set to any value: wrong types, out of range."""
    nodes = [n for n in _nodes(doc) if isinstance(n, dict)]
    if nodes:
        node = draw(st.sampled_from(nodes))
        type_name = node.get("type")
        known = [p.name for p in CATALOGUE[type_name].params] if isinstance(type_name, str) and \
            type_name in CATALOGUE else []
        name = draw(st.one_of(st.sampled_from(known or ["shape"]), st.text(max_size=8)))
        params = node.setdefault("params", {})
        if isinstance(params, dict):
            params[name] = draw(junk)
    return doc


def rewire(draw, doc):
    """An edge to a missing node, from or to an unknown port, backwards (a cycle) or onto itself."""
    if not isinstance(doc, dict):
        return doc
    ids = _ids(doc)
    source, target = draw(st.sampled_from(ids)), draw(st.sampled_from(ids))
    edge = {"source": source, "target": draw(st.sampled_from([target, source, "missing", "x"]))}
    if draw(st.booleans()):
        edge[draw(st.sampled_from(["source_port", "target_port"]))] = draw(st.sampled_from(
            ["in", "out", "in0", "in1", "in7", "input", "target", "bogus", ""]))
    edges = doc.setdefault("edges", [])
    if isinstance(edges, list):
        edges.append(edge)
    return doc


def set_version(draw, doc):
    if isinstance(doc, dict):
        doc["version"] = draw(st.sampled_from([2, 99, 0, -1, 1.0, 1.5, "1", True, None, [1], 10 ** 30]))
    return doc


MUTATIONS = [replace_value, delete_value, add_key, duplicate_node, retype_node, set_param, set_param, rewire,
             rewire, set_version]


def text_of(doc) -> str:
    """The JSON text, with the `HUGE` and `DEEP` markers replaced by what they stand for."""
    text = json.dumps(doc)
    text = re.sub(rf'"{HUGE}(\d+)"', lambda m: "1" + "0" * (int(m.group(1)) - 1), text)
    return re.sub(rf'"{DEEP}(\d+)"', lambda m: nested_text(int(m.group(1))), text)


def corrupt(draw, raw: bytes) -> bytes:
    """Damage at the byte level: truncation, non-UTF-8 bytes, a BOM, UTF-16, trailing garbage."""
    how = draw(st.sampled_from(["truncate", "byte", "bom", "utf16", "garbage"]))
    at = draw(st.integers(0, len(raw)))
    if how == "truncate":
        return raw[:at]
    if how == "byte":
        return raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80", b"\x00"])) + raw[at:]
    if how == "bom":
        return b"\xef\xbb\xbf" + raw
    if how == "utf16":
        return raw.decode("utf-8").encode("utf-16")
    return raw + draw(st.binary(min_size=1, max_size=16))


@st.composite
def hostile_files(draw) -> bytes:
    """The bytes of a damaged or hostile project file (now and then one that is still fine)."""
    if draw(st.booleans()):
        doc = copy.deepcopy(draw(st.sampled_from(EXAMPLES)))
    else:
        doc = Project(draw(graphs(max_layers=4))).to_dict()
    for _ in range(draw(st.integers(0, 4))):
        doc = draw(st.sampled_from(MUTATIONS))(draw, doc)
    raw = text_of(doc).encode("utf-8")
    if draw(st.integers(0, 3)) == 0:
        raw = corrupt(draw, raw)
    return raw


@st.composite
def junk_files(draw) -> bytes:
    """Not a project at all: any JSON value, or any bytes."""
    if draw(st.booleans()):
        return text_of(draw(junk)).encode("utf-8")
    return draw(st.binary(max_size=200))
