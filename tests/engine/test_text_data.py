"""The text_csv source: reading, tokenizing on the training split only, the preprocessing contract, bad input."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from engine.data import load_dataset
from engine.data.arrays import split_indices
from engine.data.text import PAD_ID, encode_texts
from engine.errors import UserError

UNK_ID = 1
WORDS = ("good", "great", "fine", "bad", "awful", "poor")


def write_csv(path, rows, header=("review", "label")):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def reviews(n=40):
    """n reviews, half praising and half blaming, the label as text."""
    rows = []
    for i in range(n):
        positive = i % 2 == 0
        words = WORDS[:3] if positive else WORDS[3:]
        rows.append((f"the film was {words[i % 3]} and {words[(i + 1) % 3]}", "pos" if positive else "neg"))
    return rows


def load(tmp_path, rows=None, val_split=0.25, seed=0, **options):
    write_csv(tmp_path / "reviews.csv", reviews() if rows is None else rows)
    spec = {"name": "text_csv", "path": "reviews.csv", "text": "review", "target": "label", **options}
    return load_dataset(spec, tmp_path, val_split, seed)


def test_texts_become_padded_int64_ids_and_labels_become_classes(tmp_path):
    data = load(tmp_path, max_length=12)
    assert data.input_shape == (12,) and data.input_dtype == "int64"
    assert data.x_train.dtype == torch.int64 and data.task == "classification"
    assert data.class_names == ["neg", "pos"]
    lengths = (data.x_train != PAD_ID).sum(dim=1)
    assert lengths.tolist() == [6] * len(data.x_train)  # "the film was good and great"
    assert (data.x_train[:, 6:] == PAD_ID).all()
    assert data.vocab_size == data.preprocessing["vocab_size"] == 2 + 4 + 6  # [PAD] [UNK], 4 common words, 6
    assert int(data.x_train.max()) < data.vocab_size


def test_long_texts_are_cut_to_max_length_and_a_note_says_how_many(tmp_path):
    rows = [("one two three four five six seven", "a"), ("one two", "b")] * 10
    data = load(tmp_path, rows, max_length=4)
    assert (data.x_train != PAD_ID).sum(dim=1).max() == 4
    assert any("10 of 20 texts" in note and "max_length 4" in note for note in data.notes)


def test_quoted_cells_with_commas_and_newlines_are_one_text_each(tmp_path):
    rows = [("first, with a comma", "x"), ("two\nlines here", "y")] * 6
    data = load(tmp_path, rows, max_length=8, tokenizer="word")
    assert len(data.train) + len(data.val) == 12
    assert data.preprocessing["vocab_size"] == 2 + 8  # first , with a comma two lines here


def test_the_tokenizer_is_trained_on_the_training_split_only(tmp_path):
    rows = reviews(40)
    _train, val = split_indices(len(rows), 0.25, 0)
    rows[val[0]] = ("the film was zanzibar", rows[val[0]][1])  # a word only a validation text has
    data = load(tmp_path, rows, max_length=8)
    vocab = json.loads(data.preprocessing["tokenizer"])["model"]["vocab"]
    assert "zanzibar" not in vocab
    assert (data.x_val == UNK_ID).sum() == 1 and (data.x_train == UNK_ID).sum() == 0
    rows[val[0]], rows[_train[0]] = rows[_train[0]], ("the film was zanzibar", rows[_train[0]][1])
    moved = load(tmp_path, rows, max_length=8)
    assert "zanzibar" in json.loads(moved.preprocessing["tokenizer"])["model"]["vocab"]


@pytest.mark.parametrize("kind", ["word", "bpe", "wordpiece"])
def test_every_tokenizer_kind_encodes_predictions_as_training_did(tmp_path, kind):
    data = load(tmp_path, tokenizer=kind, vocab_size=60, max_length=10)
    assert data.preprocessing["kind"] == "text" and data.preprocessing["tokenizer_type"] == kind
    stored = json.loads(json.dumps(data.preprocessing))  # as the weights' metadata keeps it
    texts = [row[0] for row in reviews()]
    order = np.concatenate(split_indices(len(texts), 0.25, 0))
    encoded = encode_texts(stored, [texts[i] for i in order])
    assert encoded.dtype == torch.int64 and encoded.shape == (len(texts), 10)
    assert torch.equal(encoded, torch.cat([data.x_train, data.x_val]))
    unseen = encode_texts(stored, ["qqqq xxxx", ""])
    assert unseen.shape == (2, 10) and (unseen[1] == PAD_ID).all()
    assert kind != "word" or unseen[0, :2].tolist() == [UNK_ID, UNK_ID]


def test_encode_texts_refuses_other_preprocessing_and_non_text(tmp_path):
    with pytest.raises(UserError, match="not text"):
        encode_texts({"kind": "images", "size": [8, 8]}, ["hello"])
    data = load(tmp_path)
    with pytest.raises(UserError, match="text 2 is not text"):
        encode_texts(data.preprocessing, ["fine", 3])
    with pytest.raises(UserError, match="tokenizer cannot be read"):
        encode_texts({**data.preprocessing, "tokenizer": "{not json"}, ["fine"])


def test_numeric_targets_are_read_as_csv_reads_them(tmp_path):
    ints = load(tmp_path, [(f"text {i}", str(i % 3)) for i in range(30)])
    assert ints.task == "classification" and ints.class_names == ["0", "1", "2"]
    values = load(tmp_path, [(f"text {i}", f"{i * 0.37:.2f}") for i in range(30)])
    assert values.task == "regression" and values.target_shape == (1,) and values.target_dtype == "float32"


def test_columns_default_to_the_first_and_the_last(tmp_path):
    write_csv(tmp_path / "r.csv", [(i, f"word{i % 4} word", "a" if i % 2 else "b") for i in range(20)],
              header=("id", "body", "label"))
    with pytest.raises(UserError, match="holds text"):  # column 0 (ids) would be the text, a label the target
        load_dataset({"name": "text_csv", "path": "r.csv", "task": "regression"}, tmp_path)
    data = load_dataset({"name": "text_csv", "path": "r.csv", "text": 1}, tmp_path)
    assert data.class_names == ["a", "b"] and data.feature_names == ["body"]


# ---- bad input ----------------------------------------------------------------------------------

def test_an_empty_text_cell_names_its_line_and_column(tmp_path):
    rows = reviews(10)
    rows[4] = ("  ", "pos")
    with pytest.raises(UserError, match=r"reviews.csv line 6, column 'review' is empty.*skip_empty"):
        load(tmp_path, rows)


def test_skip_empty_leaves_such_rows_out_and_says_so(tmp_path):
    rows = reviews(20)
    rows[4] = rows[9] = ("", "pos")
    data = load(tmp_path, rows, skip_empty=True)
    assert len(data.train) + len(data.val) == 18
    assert any("2 rows with an empty text were left out (first: line 6)" in note for note in data.notes)


def test_an_empty_label_names_its_line_and_column(tmp_path):
    rows = reviews(10)
    rows[2] = ("fine", "")
    with pytest.raises(UserError, match="reviews.csv line 4, column 'label' is empty"):
        load(tmp_path, rows)


def test_a_non_utf8_file_names_the_file_and_line(tmp_path):
    path = write_csv(tmp_path / "reviews.csv", reviews(10))
    lines = path.read_bytes().split(b"\n")
    lines[7] = lines[7].replace(b"film", b"fil\xe9")  # Latin-1, as an old export writes it
    path.write_bytes(b"\n".join(lines))
    spec = {"name": "text_csv", "path": "reviews.csv", "text": "review", "target": "label"}
    with pytest.raises(UserError, match=r"reviews.csv line 8 is not UTF-8 text \(byte 0xe9.*save the file as UTF-8"):
        load_dataset(spec, tmp_path)


def test_a_missing_column_is_named_and_the_columns_listed(tmp_path):
    with pytest.raises(UserError, match=r"reviews.csv has no column 'body' \(dataset option 'text'\); its "
                                        r"columns are: 'review', 'label'"):
        load(tmp_path, text="body")
    with pytest.raises(UserError, match="column 5 is out of range"):
        load(tmp_path, target=5)
    with pytest.raises(UserError, match="both name column 'review'"):
        load(tmp_path, target="review")


def test_a_row_of_the_wrong_width_names_its_line(tmp_path):
    path = write_csv(tmp_path / "reviews.csv", reviews(6))
    path.write_text(path.read_text() + "a,b,c\n")
    spec = {"name": "text_csv", "path": "reviews.csv", "text": "review", "target": "label"}
    with pytest.raises(UserError, match="reviews.csv line 8 has 3 fields but the header has 2"):
        load_dataset(spec, tmp_path)


@pytest.mark.parametrize("option, value, expected", [
    ("vocab_size", 2, "between 3 and 1048576"), ("vocab_size", 10**9, "between 3 and 1048576"),
    ("vocab_size", "big", "a whole number"), ("max_length", 0, "between 1 and 8192"),
    ("max_length", 100000, "between 1 and 8192"), ("tokenizer", "sentencepiece", "one of 'word'"),
])
def test_options_out_of_range_are_refused(tmp_path, option, value, expected):
    with pytest.raises(UserError, match=f"'{option}' must be {expected}"):
        load(tmp_path, **{option: value})


def test_an_empty_file_and_a_header_without_rows(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(UserError, match="empty.csv is empty"):
        load_dataset({"name": "text_csv", "path": "empty.csv"}, tmp_path)
    with pytest.raises(UserError, match="header but no rows"):
        load(tmp_path, rows=[])


def test_a_file_too_large_for_memory_is_refused_before_it_is_held(tmp_path, monkeypatch):
    import engine.memory_budget

    size = len(write_csv(tmp_path / "reviews.csv", reviews(40)).read_bytes())
    monkeypatch.setattr(engine.memory_budget, "available_bytes", lambda: size * 2)
    with pytest.raises(UserError, match="reviews.csv: its texts need about .* of memory"):
        load(tmp_path)
    monkeypatch.setattr(engine.memory_budget, "available_bytes", lambda: size * 5)
    with pytest.raises(UserError, match=r"reviews.csv: 40 texts of 8192 int64 token ids need .*smaller max_length"):
        load(tmp_path, max_length=8192)


@pytest.mark.parametrize("kind", ["word", "bpe", "wordpiece"])
def test_texts_encoded_together_match_each_text_encoded_alone(kind, monkeypatch):
    import engine.data.text as text

    monkeypatch.setattr(text, "CHUNK_TEXTS", 4)  # several chunks, one of them short
    texts = ["The ﬁlm was ＧＲＥＡＴ!", "", "  ", "a b c d e f g h i j k l", "new\nline, \"quoted\"",
             f"holds the separator{text.SEPARATOR}itself", "naïve café", "[UNK] [PAD] literally", "x" * 50,
             "bad", "good"]
    tokenizer = text.train_tokenizer(texts + ["the film was great, naive cafe"] * 3, kind, 50)
    ids, cut = text._encode(tokenizer, texts, 6, text.PAD_ID)
    tokenizer.enable_truncation(6)
    tokenizer.enable_padding(pad_id=text.PAD_ID, pad_token=text.PAD, length=6)
    assert ids.tolist() == [e.ids for e in tokenizer.encode_batch(texts)]
    tokenizer.no_truncation()
    assert cut == sum(len(e.ids) > 6 for e in tokenizer.encode_batch(texts))
