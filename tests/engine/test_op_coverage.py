"""Every catalogue type is known to the whole engine, and the importers keep up with the catalogue.

- the op table (`engine.ops.OPS`) has one entry per catalogue type: a shape rule and a builder (a torch.nn
  class, or a forward recipe the compiler emits), checked by building the type;
- every computing type has a case in the hypothesis property test (tests/engine/test_shape_property.py);
- every type either comes back from the torch.fx importer and from the ONNX importer, or sits on that
  importer's "not importable" list with a reason (engine/importers/coverage.py), and no listed type comes
  back; docs/import-coverage.md is generated from those lists and is current.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from torch import nn

from engine.compiler import compile_graph
from engine.importers import coverage
from engine.modules import build_module, constructor
from engine.ops import OPS
from graphs.catalogue import CATALOGUE
from tests.engine.test_shape_property import CASES

ROOT = Path(__file__).resolve().parents[2]
TYPES = sorted(CATALOGUE)


def test_the_op_table_has_one_entry_per_catalogue_type():
    assert set(OPS) == set(CATALOGUE)


@pytest.mark.parametrize("type_name", TYPES)
def test_every_type_has_a_shape_rule_and_a_builder(type_name):
    spec, op = CATALOGUE[type_name], OPS[type_name]
    assert callable(op.shape)
    if spec.is_data:
        assert op.module is None and op.forward is None
        return
    if spec.is_loss:  # built apart from forward, on the model output and the target
        assert op.forward is None
        assert isinstance(build_module(type_name, spec.resolve_params({}), {}), getattr(nn, op.module))
        return
    assert op.forward is not None, f"{type_name} has no forward recipe"
    graph = coverage.sample_graph(type_name)
    assert graph is not None, f"no input shape makes {type_name} infer with its default params"
    compiled = compile_graph(graph)
    assert "node" in {n.name for n in compiled.model.graph.nodes}
    if op.module is None:
        assert not dict(compiled.model.named_children())
    else:
        assert type(compiled.model.get_submodule("node")) is getattr(nn, op.module)
        class_name, _ = constructor(type_name, graph.node("node").resolved_params(), compiled.shapes.inputs["node"])
        assert class_name == op.module


def test_every_computing_type_has_a_property_test_case():
    assert {name for name, spec in CATALOGUE.items() if not spec.is_data} <= set(CASES)


def test_the_not_importable_lists_name_catalogue_types_with_a_reason():
    assert set(coverage.NOT_IMPORTABLE) == set(coverage.IMPORTERS)
    for listed in coverage.NOT_IMPORTABLE.values():
        assert set(listed) <= set(CATALOGUE)
        assert all(reason.strip() for reason in listed.values())


@pytest.mark.parametrize("importer", coverage.IMPORTERS)
@pytest.mark.parametrize("type_name", TYPES)
def test_every_type_imports_or_is_listed_with_its_reason(importer, type_name):
    comes_back, what = coverage.round_trip(importer, type_name)
    listed = type_name in coverage.NOT_IMPORTABLE[importer]
    if listed:
        assert not comes_back, f"{type_name} is listed as not importable from {importer}, but it imports ({what})"
    else:
        assert comes_back, (f"{type_name} does not come back from the {importer} importer ({what}): map it in the "
                            "importer, or list it in engine/importers/coverage.py with the reason")


def test_the_import_coverage_doc_is_current():
    text = (ROOT / "docs" / "import-coverage.md").read_text(encoding="utf-8")
    assert text == coverage.markdown(), "regenerate it: python -m engine.importers.coverage > docs/import-coverage.md"


def test_the_coverage_lists_import_no_torch():
    code = ("import sys, engine.importers.coverage as c; c.markdown(); c.sample_inputs('Conv2d');"
            "sys.exit(1 if any(m.split('.')[0] == 'torch' for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
