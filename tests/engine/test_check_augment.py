"""`check` refuses a dataset's augmentation list as `train` would, naming the entry, before loading data."""

import json
from pathlib import Path

import pytest

import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "resources" / "examples" / "shapes_cnn_augment.json"


def with_augment(tmp_path, augment):
    data = json.loads(EXAMPLE.read_text())
    data["training"]["dataset"]["augment"] = augment
    path = tmp_path / "augmented.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("augment, words", [
    ([{"type": "RandomFlip"}], ["augment entry 0", "'RandomFlip'", "unknown augmentation"]),
    ([{"type": "RandomHorizontalFlip"}, {"type": "RandomResizedCrop", "size": [16, 16]}],
     ["augment entry 1", "'RandomResizedCrop'", "[3, 16, 16]", "set its size to [32, 32]"]),
    ([{"type": "ColorJitter", "brightness": "x"}], ["augment entry 0", "'ColorJitter'", "'x'"]),
    ([{"type": "RandomCrop"}], ["augment entry 0", "needs the argument", "'size'"]),
    ({"type": "RandomHorizontalFlip"}, ['"augment" must be a list']),
])
def test_a_bad_list_is_a_problem_naming_its_entry(tmp_path, capsys, augment, words):
    assert main.main(["check", str(with_augment(tmp_path, augment)), "--json"]) == 2
    errors = json.loads(capsys.readouterr().out)["errors"]
    assert len(errors) == 1 and errors[0]["node"] is None
    assert all(word in errors[0]["message"] for word in words), errors[0]["message"]


def test_a_good_list_stays_valid_in_text_mode(tmp_path, capsys):
    path = with_augment(tmp_path, [{"type": "RandomCrop", "size": [32, 32], "padding": 4},
                                   {"type": "RandomErasing", "p": 0.5}])
    assert main.main(["check", str(path)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("valid")
