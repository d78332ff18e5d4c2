"""The Data panel with a text dataset: samples with their token strings, the length histogram, the text
CSV chooser with its target column, and an Embedding that takes the vocabulary size as an undoable step."""

import csv

import pytest

from gui import commands
from gui.workbench.text_preview import length_bins
from tests.workbench.test_settings_panels import choose


@pytest.fixture
def sample_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROCANVAS_CACHE", str(tmp_path / "cache"))


def wait_text_preview(bench, qtbot):
    bench.show_dock("data")
    qtbot.waitUntil(lambda: bench.data_panel.preview is not None and bench.data_panel.preview.kind == "text",
                    timeout=60_000)
    return bench.data_panel


def test_length_bins_count_every_text_once():
    assert length_bins([]) == ([], 1)
    assert length_bins([0, 1, 1, 3]) == ([1, 2, 0, 1], 1)
    counts, width = length_bins(list(range(100)), max_bins=10)
    assert width == 10 and counts == [10] * 10


def test_the_sentiment_example_shows_samples_with_tokens_and_lengths(open_example, qtbot, sample_cache):
    bench = open_example("sentiment_lstm")
    panel = wait_text_preview(bench, qtbot)
    preview = panel.preview
    assert panel.samples.currentWidget() is panel.texts
    table = panel.texts.table
    assert table.rowCount() == len(preview.labels) > 0
    assert [table.horizontalHeaderItem(i).text() for i in range(3)] == ["label", "tokens", "text, then its tokens"]
    assert table.item(0, 0).text() in ("positive", "negative")
    text, tokens = table.item(0, 2).text().split("\n")
    assert text == preview.texts[0] and tokens.split(" · ") == preview.tokens[0]
    assert int(table.item(0, 1).text()) == len(preview.tokens[0])
    assert sum(panel.texts.histogram.counts) == len(preview.lengths) == 4800
    assert "median" in panel.texts.summary.text()
    assert panel.form.isRowVisible(panel.numbers["vocab_size"]) and panel.form.isRowVisible(panel.numbers["max_length"])
    assert panel.numbers["max_length"].text() == "40"


def test_an_embedding_left_to_the_data_takes_the_vocabulary_as_an_undoable_step(open_example, qtbot, sample_cache):
    bench = open_example("sentiment_lstm")
    wait_text_preview(bench, qtbot)
    graph, stack = bench.document.graph, bench.document.undo_stack
    old = dict(graph.node("embed").params)
    stack.push(commands.SetParams(graph, "embed", old, {**old, "num_embeddings": None}))
    qtbot.waitUntil(lambda: graph.node("embed").params["num_embeddings"] not in (None, 512), timeout=60_000)
    from engine.data import load_dataset

    training = bench.settings.training
    expected = load_dataset(training["dataset"], ".", training["val_split"], training["seed"]).vocab_size
    assert graph.node("embed").params["num_embeddings"] == expected
    stack.undo()
    assert graph.node("embed").params["num_embeddings"] is None


def test_a_text_csv_file_is_chosen_with_its_columns(open_example, qtbot, dialogs, tmp_path, sample_cache):
    path = tmp_path / "reviews.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "review", "stars"])
        writer.writerows((i, f"the film was {'good' if i % 2 else 'bad'}, really", "ab"[i % 2]) for i in range(40))
    bench = open_example("sentiment_lstm")
    panel = wait_text_preview(bench, qtbot)
    settings = bench.settings.training
    settings["dataset"] = {"name": "text_csv", "sample": "sentiment", "text": "review", "max_length": 8}
    bench.settings.update(settings, "test dataset")
    assert "sentiment" in panel.path.placeholderText()
    dialogs.open_path = str(path)
    panel.browse.click()
    qtbot.waitUntil(lambda: bench.settings.training["dataset"].get("path") == str(path), timeout=30_000)
    assert [panel.target.itemText(i) for i in range(panel.target.count())] == ["id", "review", "stars"]
    choose(panel.target, "stars")
    qtbot.waitUntil(lambda: bench.settings.training["dataset"].get("target") == "stars"
                    and panel.preview is not None and panel.preview.kind == "text", timeout=30_000)
    assert panel.counts.counts == {"a": 20, "b": 20}
    assert bench.settings.training["dataset"]["text"] == "review"  # options the panel doesn't show are kept
    assert "sample" not in bench.settings.training["dataset"]  # the file replaced the generated set
    assert panel.preview.tokens[0][:3] == ["the", "film", "was"]
    assert bench.document.graph.node("tokens").params["shape"] == [8]
