"""Hostile weight files: loading weights into a model either copies exactly the tensors the file
holds, or raises `UserError` with a message that names the file or the tensor. Never another
exception, never a hang, never a pickle.

The files start from a real checkpoint (the moons MLP, with a BatchNorm so there is an integer
buffer too) and are damaged as bytes (cut short at any offset, header bytes flipped, the header
length or the header JSON replaced by hostile values) or rebuilt as valid safetensors with the
wrong contents (a tensor missing, extra, renamed, reshaped, or of another dtype). Files that are
no safetensors at all (a torch pickle that would run code, junk, special files) are refused too.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import tempfile
from pathlib import Path

import pytest
import safetensors.torch
import torch
from hypothesis import given, note, settings
from hypothesis import strategies as st

from engine.compiler import compile_graph
from engine.errors import UserError
from engine.training import Trainer, load_weights, read_metadata, save_weights
from tests.reliability.guards import one_line, time_limit
from tests.reliability.tally import count, examples
from tests.reliability.training import write_project

SUBJECT = "hostile weight files"
LOAD_SECONDS = 5.0  # a hang guard: a checkpoint of this size loads in milliseconds
NAME = "weights.safetensors"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """(graph, the file's bytes, its tensors): a real checkpoint of a small model with an int64 buffer."""
    folder = tmp_path_factory.mktemp("checkpoint")
    project = write_project(folder, {"name": "moons", "n_samples": 160, "noise": 0.1})
    graph = project.graph
    graph.disconnect(graph.edge_into("act", "in"))
    graph.add_node("BatchNorm1d", {}, "norm", (0, 0))
    graph.connect("fc1", "norm")
    graph.connect("norm", "act")
    trainer = Trainer(project, out_dir=folder / "run", epochs=1, threads=1)
    trainer.prepare()
    path = save_weights(trainer.model, folder / NAME, {"project": "moons", "epoch": "1"})
    return trainer.graph, path.read_bytes(), safetensors.torch.load_file(str(path))


def header_length(raw: bytes) -> int:
    return struct.unpack("<Q", raw[:8])[0]


def load_or_refuse(graph, raw: bytes, expected: dict[str, torch.Tensor] | None, subject: str) -> str:
    """Load `raw` into a fresh model: the tensors must be `expected` exactly (None: must be refused),
    or a one-line `UserError` names the file or a tensor. Returns the outcome."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / NAME
        path.write_bytes(raw)
        model = compile_graph(graph).model
        before = {k: v.clone() for k, v in model.state_dict().items()}
        try:
            with time_limit(LOAD_SECONDS, "loading weights"):
                load_weights(model, path)
        except UserError as error:
            message = one_line(str(error))
            assert str(path) in message or "tensor '" in message, message
            assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "a refused file changed weights"
            with time_limit(LOAD_SECONDS, "reading metadata"):
                try:
                    read_metadata(path)
                except UserError as error:
                    assert str(path) in one_line(str(error))
            outcome = "refused with UserError"
        else:
            assert expected is not None, "a damaged file was loaded"
            loaded = model.state_dict()
            assert loaded.keys() == expected.keys()
            assert all(torch.equal(loaded[k], expected[k].to(loaded[k].dtype)) for k in expected)
            outcome = "loaded, exactly the tensors it holds"
    count(subject, outcome)
    return outcome


# ---- damaged bytes ----------------------------------------------------------------

@settings(max_examples=examples(60))
@given(data=st.data())
def cut_short(graph, raw, data):
    end = 8 + header_length(raw)
    offset = data.draw(st.one_of(st.integers(0, 8), st.integers(8, end), st.integers(end, len(raw) - 1)))
    note(f"cut at {offset} of {len(raw)} (header ends at {end})")
    assert load_or_refuse(graph, raw[:offset], None, SUBJECT + ": cut short") == "refused with UserError"


def test_a_file_cut_short_anywhere_is_refused(checkpoint):
    graph, raw, _ = checkpoint
    cut_short(graph, raw)


@settings(max_examples=examples(80))
@given(data=st.data())
def flipped(graph, raw, tensors, data):
    end = 8 + header_length(raw)
    damaged = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, end - 1))
        damaged[at] ^= data.draw(st.integers(1, 255))
    note(repr(bytes(damaged[:end])))
    load_or_refuse(graph, bytes(damaged), tensors, SUBJECT + ": header bytes flipped")


def test_flipped_header_bytes_load_the_same_tensors_or_are_refused(checkpoint):
    graph, raw, tensors = checkpoint
    flipped(graph, raw, tensors)


def with_header(header, raw: bytes, length: int | None = None) -> bytes:
    """`raw`'s data under another header (JSON of any value), with its true or a false length."""
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + raw[8 + header_length(raw):]


def hostile_headers(header: dict) -> st.SearchStrategy:
    """The checkpoint's header with one entry's field replaced by a hostile value, or junk JSON."""
    names = sorted(k for k in header if k != "__metadata__")
    values = st.one_of(
        st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=20), st.none(), st.booleans(),
        st.lists(st.integers(-(2**64), 2**64), max_size=5),
        st.sampled_from(["F32", "F64", "F16", "BF16", "I64", "I32", "I8", "U8", "BOOL", "C64", "F8_E4M3", "X"]))
    one_field = st.tuples(st.sampled_from(names), st.sampled_from(["dtype", "shape", "data_offsets"]), values).map(
        lambda change: {**header, change[0]: {**header[change[0]], change[1]: change[2]}})
    junk = st.recursive(st.none() | st.integers() | st.text(max_size=8),
                        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                   max_size=4), max_leaves=12)
    return st.one_of(one_field, junk, st.dictionaries(st.sampled_from(names), junk, max_size=3))


def test_hostile_headers_are_refused(checkpoint):
    graph, raw, tensors = checkpoint
    header = json.loads(raw[8:8 + header_length(raw)])

    @settings(max_examples=examples(80))
    @given(new=hostile_headers(header))
    def check(new):
        note(json.dumps(new)[:400])
        load_or_refuse(graph, with_header(new, raw), tensors, SUBJECT + ": hostile header JSON")

    check()


@pytest.mark.parametrize("length", [0, 1, 7, 2**31, 2**32 + 1, 2**63, 2**64 - 1])
def test_a_false_header_length_is_refused_without_reading_on(checkpoint, length):
    graph, raw, _ = checkpoint
    header = json.loads(raw[8:8 + header_length(raw)])
    assert load_or_refuse(graph, with_header(header, raw, length), None,
                          SUBJECT + ": false header length") == "refused with UserError"


# ---- valid files with the wrong contents --------------------------------------------

def rebuilt(tensors: dict[str, torch.Tensor]) -> bytes:
    return safetensors.torch.save(tensors, metadata={"format": "pt"})


DTYPES = [torch.float16, torch.bfloat16, torch.float64, torch.int32, torch.int64, torch.uint8, torch.bool,
          torch.int8, torch.complex64]


def changed(tensors: dict[str, torch.Tensor]) -> st.SearchStrategy:
    """(description, the tensors of a valid file that differ from the model's in one way)."""
    names = sorted(tensors)
    missing = st.sampled_from(names).map(lambda n: (f"'{n}' missing", {k: v for k, v in tensors.items() if k != n}))
    extra = st.sampled_from(["extra", "fc3.weight", "fc1.weight.extra", "", " "]).map(
        lambda n: (f"extra '{n}'", {**tensors, n: torch.zeros(2)}))
    renamed = st.sampled_from(names).map(
        lambda n: (f"'{n}' renamed", {(k + "_" if k == n else k): v for k, v in tensors.items()}))
    reshaped = st.tuples(st.sampled_from(names), st.lists(st.integers(0, 5), max_size=3)).map(
        lambda c: (f"'{c[0]}' of shape {c[1]}", {**tensors, c[0]: torch.zeros(c[1])}))
    dtype = st.tuples(st.sampled_from(names), st.sampled_from(DTYPES)).map(
        lambda c: (f"'{c[0]}' as {c[1]}", {**tensors, c[0]: tensors[c[0]].to(c[1])}))
    return st.one_of(missing, extra, renamed, reshaped, dtype)


def fits(given: torch.dtype, needed: torch.dtype) -> bool:
    """Weights need floating-point values; integer buffers take any real number; complex fits nothing real."""
    if given.is_complex or needed.is_complex:
        return given.is_complex and needed.is_complex
    return given.is_floating_point or not needed.is_floating_point


def test_valid_files_with_the_wrong_tensors_name_the_tensor(checkpoint):
    graph, raw, tensors = checkpoint

    @settings(max_examples=examples(60))
    @given(change=changed(tensors))
    def check(change):
        what, new = change
        note(what)
        loadable = new.keys() == tensors.keys() and all(
            new[k].shape == tensors[k].shape and fits(new[k].dtype, tensors[k].dtype) for k in new)
        outcome = load_or_refuse(graph, rebuilt(new), new if loadable else None, SUBJECT + ": valid file, wrong tensors")
        if not loadable:
            assert outcome == "refused with UserError"

    check()


# ---- no safetensors at all ------------------------------------------------------------

class Trap:
    """Unpickling this creates a file: proof that something unpickled."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mknod if hasattr(os, "mknod") else open, (self.marker,))


def test_a_pickle_that_would_run_code_is_refused_unread(checkpoint, tmp_path):
    graph, _, tensors = checkpoint
    marker = tmp_path / "unpickled"
    for name, data in {
        "torch.save": lambda path: torch.save({**tensors, "trap": Trap(str(marker))}, path),
        "pickle": lambda path: path.write_bytes(pickle.dumps(Trap(str(marker)))),
    }.items():
        path = tmp_path / f"{name}.safetensors"
        data(path)
        assert load_or_refuse(graph, path.read_bytes(), None, SUBJECT + ": pickles") == "refused with UserError"
        assert not marker.exists(), f"a {name} file was unpickled"


@pytest.mark.parametrize("raw", [b"", b"\0" * 8, b"\xff" * 64, b"{}", b"PK\x03\x04" + b"\0" * 100,
                                 struct.pack("<Q", 2) + b"{}", struct.pack("<Q", 2) + b"[]"])
def test_junk_is_refused(checkpoint, raw):
    graph, _, _ = checkpoint
    assert load_or_refuse(graph, raw, None, SUBJECT + ": junk") == "refused with UserError"


def test_special_files_are_refused_without_blocking(checkpoint, tmp_path):
    graph, _, _ = checkpoint
    pipe = tmp_path / "pipe.safetensors"
    os.mkfifo(pipe)
    special = {pipe: "is not a regular file", Path("/dev/zero"): "is not a regular file",
               tmp_path: "is a folder, not a file", tmp_path / "missing.safetensors": "does not exist"}
    for path, words in special.items():
        for read in (lambda p: load_weights(compile_graph(graph).model, p), read_metadata):
            with time_limit(LOAD_SECONDS, f"reading {path}"), pytest.raises(UserError) as caught:
                read(path)
            assert one_line(str(caught.value)) == f"weights file {path} {words}"
        count(SUBJECT + ": special files", "refused with UserError")
