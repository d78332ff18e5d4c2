"""Training faults: each ends its run with a clear message, other runs keep going, and every
checkpoint written before the fault still loads.

Faults are injected into a real `Trainer` run of a small MLP (see `training.py`): a layer's
forward that returns NaN or infinity, or raises, at its n-th call (so in any batch of training
or validation); out of memory (CUDA's, an older build's RuntimeError, the host's MemoryError)
from a layer or from the training step; a learning rate too large to train with. Patches go
on one run's own objects, never on a class, so a healthy `Bystander` run in another thread
trains on through each fault. Disk faults (checkpoint and metrics writes failing) are
process-wide, so there the next run of the same process is the one that must work. Stop and
pause spam live in `test_run_control_spam.py`, deleted data files in `test_streamed_data.py`.
"""

from __future__ import annotations

import csv
import math
import re
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from engine.errors import UserError
from engine.training import read_weights
from engine.training.failures import failure_message
from graphs.project import load_project
from tests.reliability.datafiles import write_image_folder
from tests.reliability.faults import ERRORS, STEPS, inject
from tests.reliability.tally import count, rounds
from tests.reliability.training import (
    CALLS_PER_EPOCH,
    TRAIN_BATCHES,
    Bystander,
    assert_checkpoints_load,
    assert_ended_once,
    assert_failed_clearly,
    assert_restored_last_good,
    moons,
    run,
    write_project,
)

EPOCHS = 2
SUBJECT = "injected training faults"


class InjectedFault(Exception):
    """An exception type no code under test knows about."""


def at_call(n: int, replace=None, error=None):
    """A `prepare` hook: the model's layer `fc2` returns `replace(output)`, or raises `error()`, at its
    n-th forward call (0-based) and behaves normally otherwise."""
    def prepare(trainer):
        layer = trainer.compiled.model.fc2
        real, calls = layer.forward, [0]

        def forward(x):
            calls[0] += 1
            if calls[0] - 1 == n:
                if error is not None:
                    raise error()
                return replace(real(x))
            return real(x)

        layer.forward = forward
    return prepare


def where(n: int) -> tuple[int, int | None]:
    """(epoch, batch) of the n-th forward call; batch None for a validation call."""
    epoch, offset = divmod(n, CALLS_PER_EPOCH)
    return epoch + 1, (offset + 1 if offset < TRAIN_BATCHES else None)


def location(n: int) -> str:
    epoch, batch = where(n)
    return f"at epoch {epoch}, batch {batch}" if batch else f"in the validation of epoch {epoch}"


def check_failed_run(trainer, result, events, *words: str) -> str:
    message = assert_failed_clearly(result, events, *words)
    assert_checkpoints_load(trainer, result)
    assert_restored_last_good(trainer, result)
    return message


# ---- a NaN or an infinity ---------------------------------------------------------

VALUES = {"NaN": math.nan, "inf": math.inf, "-inf": -math.inf}


@settings(max_examples=rounds(12, 100))
@given(n=st.integers(0, EPOCHS * CALLS_PER_EPOCH - 1), value=st.sampled_from(sorted(VALUES)),
       regression=st.booleans())
def nan_or_inf_from_a_layer(n, value, regression):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        project = (write_project(folder, {"name": "sine", "n_samples": 160}, classes=None, loss="MSELoss")
                   if regression else moons(folder))
        trainer, result, events = run(project, folder / "run", epochs=EPOCHS,
                                      prepare=at_call(n, replace=lambda out: out + VALUES[value]))
        epoch, batch = where(n)
        which = f"loss became {{}} at epoch {epoch}, batch {batch}" if batch else \
            f"validation loss became {{}} at epoch {epoch}"
        message = check_failed_run(trainer, result, events, "try a lower learning rate")
        assert any(which.format(kind) in message for kind in ("NaN", "infinite")), (which, message)
        assert len(result.history) == epoch - 1
    count(SUBJECT, "NaN or infinity from a layer: failed naming the batch, checkpoints load")


def test_a_nan_or_infinity_names_its_batch_while_another_run_trains_on(tmp_path):
    with Bystander(tmp_path):
        nan_or_inf_from_a_layer()


@pytest.mark.parametrize("optimizer", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_a_huge_learning_rate_fails_or_trains(optimizer, tmp_path):
    """Nothing forces a loss to overflow; when it does, the message gives the advice."""
    project = write_project(tmp_path, {"name": "sine", "n_samples": 160}, classes=None, loss="MSELoss",
                            optimizer={"type": optimizer, "lr": 1e30})
    trainer, result, events = run(project, tmp_path / "run", epochs=2)
    if result.status == "finished":
        assert_ended_once(result, events)
        count(SUBJECT, "learning rate 1e30: trained (the loss stayed finite)")
        return
    check_failed_run(trainer, result, events, "loss became ", "try a lower learning rate (now 1e+30)")
    count(SUBJECT, "learning rate 1e30: failed with advice")


# ---- an exception inside a layer ---------------------------------------------------

EXCEPTIONS = [ValueError, TypeError, KeyError, IndexError, ZeroDivisionError, AssertionError, AttributeError,
              NotImplementedError, RecursionError, OSError, RuntimeError, InjectedFault]


@settings(max_examples=rounds(14, 100))
@given(n=st.integers(0, EPOCHS * CALLS_PER_EPOCH + 4), kind=st.sampled_from(EXCEPTIONS))
def exception_in_a_layer(n, kind):
    note(f"{kind.__name__} at call {n}")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        trainer, result, events = run(moons(folder), folder / "run", epochs=EPOCHS,
                                      prepare=at_call(n, error=lambda: kind("injected fault")))
        if n >= EPOCHS * CALLS_PER_EPOCH:
            assert result.status == "finished" and len(result.history) == EPOCHS
            count(SUBJECT, "exception in a layer: none came (the run finished)")
            return
        what = "injected fault" if kind is RuntimeError else f"{kind.__name__}: {kind('injected fault')}"
        check_failed_run(trainer, result, events, f"training failed {location(n)}: {what}")
        assert "Traceback" in result.details and kind.__name__ in result.details
    count(SUBJECT, "exception in a layer: failed naming the batch and the error, checkpoints load")


def test_an_exception_in_a_layer_names_its_batch_while_another_run_trains_on(tmp_path):
    with Bystander(tmp_path):
        exception_in_a_layer()


# ---- out of memory ------------------------------------------------------------------

OUT_OF_MEMORY = {
    "CUDA": lambda: torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
    "an older build's RuntimeError": lambda: RuntimeError("CUDA error: out of memory"),
    "MPS": lambda: RuntimeError("MPS backend out of memory (MPS allocated: 1.2 GB)"),
    "the host (MemoryError)": MemoryError,
    "torch's CPU allocator": lambda: RuntimeError(
        "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to "
        "allocate 21474836480 bytes. Error code 12 (Cannot allocate memory)"),
    "torch's CPU allocator on Windows": lambda: RuntimeError(
        "[enforce fail at C:\\actions-runner\\alloc_cpu.cpp:72] data. DefaultCPUAllocator: not enough memory: "
        "you tried to allocate 21474836480 bytes."),
}


@settings(max_examples=rounds(8, 60))
@given(n=st.integers(0, EPOCHS * CALLS_PER_EPOCH - 1), what=st.sampled_from(sorted(OUT_OF_MEMORY)))
def out_of_memory_in_a_layer(n, what):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        trainer, result, events = run(moons(folder), folder / "run", epochs=EPOCHS,
                                      prepare=at_call(n, error=OUT_OF_MEMORY[what]))
        check_failed_run(trainer, result, events, f"out of CPU memory {location(n)} with batch size 16",
                         "try a smaller batch size, e.g. 8")
    count(SUBJECT, f"out of memory ({what}): failed with advice, checkpoints load")


def test_out_of_memory_names_its_batch_while_another_run_trains_on(tmp_path):
    with Bystander(tmp_path):
        out_of_memory_in_a_layer()


@settings(max_examples=rounds(10, 80), deadline=None)
@given(batch_size=st.integers(1, 4096), samples=st.integers(2, 200), what=st.sampled_from(sorted(OUT_OF_MEMORY)))
def test_the_batch_size_advised_is_smaller_and_fits_the_data(batch_size, samples, what):
    """The advice is below the batch actually used, which is never more than the training split."""
    message, details = failure_message(OUT_OF_MEMORY[what](), place="at epoch 1, batch 1",
                                       device=torch.device("cpu"), batch_size=batch_size, samples=samples,
                                       optimizer=None, grad_clip=None)
    assert details == "" and message.startswith(f"out of CPU memory at epoch 1, batch 1 with batch size {batch_size}")
    used = min(batch_size, samples)
    if used == 1:
        assert message.endswith("a batch is a single sample already: try a smaller model")
    else:
        advised = int(re.search(r"try a smaller batch size, e\.g\. (\d+), or a smaller model$", message).group(1))
        assert 1 <= advised < used
    assert (f"(every one of the {samples} training samples)" in message) == (samples < batch_size)


def test_a_batch_larger_than_the_data_gets_advice_that_fits_it(tmp_path):
    """The issue's case: batch size 512 on a tiny data set was advised to try 256."""
    project = write_project(tmp_path, {"name": "moons", "n_samples": 24, "noise": 0.1}, batch_size=512)
    trainer, result, events = run(project, tmp_path / "run", epochs=EPOCHS,
                                  prepare=at_call(0, error=OUT_OF_MEMORY["torch's CPU allocator"]))
    check_failed_run(trainer, result, events, "out of CPU memory at epoch 1, batch 1 with batch size 512 (every "
                     "one of the 18 training samples); try a smaller batch size, e.g. 9, or a smaller model")


class ReadRunsOutOfMemory:
    """An image reader whose n-th read (0-based) runs out of memory, as the CPU allocator does."""

    def __init__(self, reader, n: int):
        self.reader, self.n, self.reads = reader, n, 0

    def read(self, path):
        self._count()
        return self.reader.read(path)

    def read_uint8(self, path):
        self._count()
        return self.reader.read_uint8(path)

    def _count(self):
        self.reads += 1
        if self.reads - 1 == self.n:
            raise OUT_OF_MEMORY["torch's CPU allocator"]()


@settings(max_examples=rounds(4, 30), deadline=None)
@given(n=st.integers(0, 14))
def test_out_of_memory_reading_a_streamed_batch_names_that_batch(n):
    """Streamed images are read while the next batch is fetched: the message names that batch (it said
    "batch 0" when the first batch's read failed)."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_image_folder(folder / "imgs", per_class=10)  # 15 images to train: batches of 4, 4, 4 and 3
        project = write_project(folder, {"name": "image_folder", "path": "imgs", "grayscale": True,
                                         "stream": True}, batch_size=4, input_params={"shape": [16]})

        def prepare(trainer):
            files = trainer.dataset.train.samples
            files.reader = ReadRunsOutOfMemory(files.reader, n)

        trainer, result, events = run(project, folder / "run", epochs=EPOCHS, prepare=prepare)
        check_failed_run(trainer, result, events, f"out of CPU memory at epoch 1, batch {n // 4 + 1} with batch "
                         "size 4; try a smaller batch size, e.g. 2, or a smaller model")
    count(SUBJECT, "out of memory reading a streamed batch: failed naming that batch")


@pytest.mark.parametrize("step", [1, 2, TRAIN_BATCHES, TRAIN_BATCHES + 1, 2 * TRAIN_BATCHES])
def test_cuda_out_of_memory_from_the_training_step(step, tmp_path):
    """The brief's own injection: the step itself raises torch.cuda.OutOfMemoryError at the k-th batch."""
    def prepare(trainer):
        real, calls = trainer._train_step, [0]

        def train_step(x, y):
            calls[0] += 1
            if calls[0] == step:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory")
            return real(x, y)

        trainer._train_step = train_step

    epoch, batch = divmod(step - 1, TRAIN_BATCHES)
    trainer, result, events = run(moons(tmp_path), tmp_path / "run", epochs=EPOCHS, prepare=prepare)
    check_failed_run(trainer, result, events, f"out of CPU memory at epoch {epoch + 1}, batch {batch + 1} ")
    count(SUBJECT, "CUDA out of memory from the step: failed with advice, checkpoints load")


# ---- the disk fails while a run writes its files ------------------------------------

@pytest.fixture(scope="module")
def healthy_saves(tmp_path_factory) -> int:
    """How many files a healthy 2-epoch run writes (project.json, checkpoints, metrics.csv, weights)."""
    folder = tmp_path_factory.mktemp("healthy")
    with pytest.MonkeyPatch.context() as patch:
        counter = inject(patch, "replace", ERRORS["disk full (ENOSPC)"], after=10**9)
        _, result, _ = run(moons(folder), folder / "run", epochs=2)
    assert result.status == "finished"
    return counter.saves


def assert_files_whole(folder: Path) -> None:
    """No temporary file is left, and every file the run wrote is complete."""
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == [], "a temporary file was left"
    for path in folder.glob("*.safetensors"):
        assert all(torch.isfinite(t).all() for t in read_weights(path).values()), path
    if (folder / "metrics.csv").exists():
        rows = list(csv.DictReader((folder / "metrics.csv").open()))
        assert [int(row["epoch"]) for row in rows] == list(range(1, len(rows) + 1))
    if (folder / "project.json").exists():
        load_project(folder / "project.json")


def test_disk_faults_while_a_run_writes_its_files(healthy_saves):
    """Every file of the run in turn (the first `after` saves work), with random steps and errors."""
    for after in range(healthy_saves):
        disk_fault(after)()


def disk_fault(after: int):
    @settings(max_examples=rounds(2, 20))
    @given(step=st.sampled_from(STEPS), what=st.sampled_from(sorted(ERRORS)))
    @example(step="write", what="a crash (RuntimeError)")  # a bug of ours, not the disk: still reported
    def check(step, what):
        note(f"{what} at {step} of save {after + 1}")
        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            project = moons(folder)
            expected = ERRORS[what]()
            with pytest.MonkeyPatch.context() as patch:
                inject(patch, step, ERRORS[what], after=after)
                try:
                    trainer, result, events = run(project, folder / "run", epochs=2)
                except UserError as error:  # the run folder's project.json, before training starts
                    assert after == 0 and "project.json" in str(error) and expected.strerror in str(error)
                    count(SUBJECT, "disk fault on the run's first file: refused before training")
                    return
                except (KeyboardInterrupt, RuntimeError) as error:  # Ctrl+C; a crash before training
                    assert type(error) is type(expected) and (after == 0 or isinstance(error, KeyboardInterrupt))
                    result = None
            assert_files_whole(folder / "run")
            if result is None:
                count(SUBJECT, f"disk fault ({type(expected).__name__}): went through, every file whole")
                return
            assert_ended_once(result, events)
            reason = expected.strerror if isinstance(expected, OSError) else "simulated crash"
            assert reason in result.message, result.message
            if result.status != "failed":  # only the run's record (run.json) failed: it never fails a run
                assert "its record run.json could not be written" in result.message, result.message
                assert result.weights is not None and result.weights.exists()
                count(SUBJECT, "disk fault on the run's record: the run finished and says so")
                return
            assert_failed_clearly(result, events)
            if not result.message.startswith("finished 2 epochs, but the final weights could not be saved: "):
                assert_restored_last_good(trainer, result)
            assert_checkpoints_load(trainer, result)
            # the disk is well again: the same process trains the next run
            _, again, _ = run(project, folder / "again", epochs=1)
            assert again.status == "finished"
        count(SUBJECT, "disk fault: run failed cleanly, every file whole, the next run trains")

    return check


@pytest.mark.parametrize("what", ["the host (MemoryError)", "torch's CPU allocator"])
def test_out_of_memory_while_the_data_loads_is_bad_input_with_advice(what, tmp_path, monkeypatch):
    """Before training starts there is no run to fail: the data is too big for this machine (exit 2)."""
    def load_dataset(*_args, **_kwargs):
        raise OUT_OF_MEMORY[what]()

    monkeypatch.setattr("engine.data.load_dataset", load_dataset)
    with pytest.raises(UserError, match="^out of CPU memory while loading dataset 'moons' .*; use less data, or "
                                        "for an image folder \"stream\": true$"):
        run(moons(tmp_path), tmp_path / "run", epochs=1)
    assert not (tmp_path / "run").exists()
