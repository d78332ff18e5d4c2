"""Data loading reported while it happens: `DataProgress` events from the trainer before `RunStarted`,
the CLI's loading bar or log lines, and what loading decided (Dataset.notes) in the run's notes."""

import io

from engine.cli.train import ProgressPrinter
from engine.training import DataProgress, RunStarted, Trainer


def test_a_csv_reports_its_bytes_before_the_run_starts_and_its_notes_after(write_project, tmp_path):
    rows = "\n".join(f"{i % 7},{i % 3},{i}" for i in range(400))  # 400 different labels: taken as regression
    (tmp_path / "data.csv").write_text("a,b,label\n" + rows + "\n")
    project = write_project({"name": "csv", "path": "data.csv"}, classes=None, loss="MSELoss", epochs=1,
                            target_params={"dtype": "float32"})
    heard = []
    Trainer(project, out_dir=tmp_path / "run", callback=heard.append).run()
    loading = [e for e in heard if isinstance(e, DataProgress)]
    size = (tmp_path / "data.csv").stat().st_size
    assert loading[0] == DataProgress(0, size, "bytes") and loading[-1] == DataProgress(size, size, "bytes")
    assert heard.index(loading[-1]) < next(i for i, e in enumerate(heard) if isinstance(e, RunStarted))
    started = next(e for e in heard if isinstance(e, RunStarted))
    assert any('"task": "classification"' in note for note in started.notes)


def test_the_cli_draws_a_loading_bar_on_a_terminal_and_logs_a_line_every_ten_seconds_elsewhere():
    terminal = io.StringIO()
    ProgressPrinter(terminal, tty=True)(DataProgress(250_000_000, 1_000_000_000, "bytes"))
    assert terminal.getvalue() == "\rloading [######..................] 250 of 1,000 MB\x1b[K"

    log, now = io.StringIO(), [0.0]
    printer = ProgressPrinter(log, tty=False, clock=lambda: now[0])
    for seconds, done in [(0.0, 0), (4.0, 100), (10.5, 300), (12.0, 400), (21.0, 900), (30.0, 1000)]:
        now[0] = seconds
        printer(DataProgress(done, 1000, "images"))
    assert log.getvalue().splitlines() == ["loading data: 30% (300 of 1,000 images)",
                                           "loading data: 90% (900 of 1,000 images)"]


def test_the_status_bar_shows_how_far_the_data_has_loaded(qtbot):
    from gui.workbench.run_control import RunProgress

    progress = RunProgress()
    qtbot.addWidget(progress)
    progress.starting()
    progress.data_progress(DataProgress(3_000_000_000, 12_000_000_000, "bytes"))  # beyond a C int
    assert progress.text.text() == "Loading data… 3,000/12,000 MB"
    assert (progress.bar.value(), progress.bar.maximum()) == (250, 1000)
