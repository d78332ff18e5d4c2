"""Training events are torch-free: their module (and the GUI modules that match them by class) import without
torch; the run state is a string enum and the epoch metrics a dataclass whose dict form is the history row."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.training.events import STATUSES, EpochMetrics, RunResult, RunState

ROOT = Path(__file__).resolve().parents[2]


def test_events_and_the_gui_s_run_modules_import_without_torch():
    code = ("import sys\n"
            "import engine.training, engine.training.events, engine.training.config\n"
            "from engine.training import RunState, EpochEnd\n"  # torch-free names of the package load lazily
            "import gui.workbench.worker, gui.workbench.fine_tune_rows\n"
            "print('torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_the_package_still_gives_the_torch_backed_names_on_use():
    import engine.training

    assert engine.training.Trainer.__module__ == "engine.training.trainer"
    assert "Trainer" in dir(engine.training)
    with pytest.raises(AttributeError, match="no attribute 'Trainr'"):
        engine.training.Trainr  # noqa: B018


def test_run_states_are_the_strings_the_json_files_keep():
    assert STATUSES == ("finished", "stopped", "early_stopped", "failed")
    assert json.dumps({"status": RunState.EARLY_STOPPED}) == '{"status": "early_stopped"}'
    assert f"{RunState.PAUSED}" == "paused" and RunState("running") is RunState.RUNNING
    result = RunResult("stopped", "stopped by request")
    assert result.status is RunState.STOPPED and result.ok
    assert not RunResult(RunState.FAILED, "boom").ok
    with pytest.raises(ValueError):
        RunResult("finshed", "a typo is not a state")


def test_epoch_metrics_round_trip_the_history_row_in_its_column_order():
    row = {"epoch": 3, "train_loss": 0.5, "val_loss": 0.25, "val_mae": 1.5, "lr": 0.01, "samples_per_sec": 900.0,
           "seconds": 0.2, "threads": 2}
    metrics = EpochMetrics.from_row(row, "val_mae")
    assert metrics.metric_value == 1.5 and metrics.val_loss == 0.25 and metrics.epoch == 3
    assert list(metrics.as_dict().items()) == list(row.items())
    assert metrics.value("val_mae") == 1.5 and metrics.value("val_accuracy") is None
    unvalidated = EpochMetrics(1, 0.7, None, "val_accuracy", None, 0.1, 10.0, 0.5)
    assert unvalidated.as_dict()["val_accuracy"] is None and unvalidated.value("val_loss") is None
