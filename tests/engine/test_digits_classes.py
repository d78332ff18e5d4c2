"""The built-in sets' class filter: `{"name": "digits", "classes": [5, 6, 7, 8, 9]}`."""

from __future__ import annotations

import pytest
import torch

from engine.data import load_dataset
from engine.errors import UserError


def test_only_the_chosen_classes_are_kept_reindexed_with_their_names():
    every = load_dataset({"name": "digits"}, val_split=0.0)
    upper = load_dataset({"name": "digits", "classes": [5, 6, 7, 8, 9]}, val_split=0.0)
    assert upper.class_names == ["5", "6", "7", "8", "9"]
    assert sorted(set(upper.y_train.tolist())) == [0, 1, 2, 3, 4]
    assert len(upper.train) == int((every.y_train >= 5).sum())
    fives = every.x_train[every.y_train == 5].flatten(1)
    kept = upper.x_train[upper.y_train == 0].flatten(1)
    assert torch.equal(kept.sum(0), fives.sum(0)) and len(kept) == len(fives)  # the same images, another order


def test_the_order_given_is_the_label_order():
    data = load_dataset({"name": "iris", "classes": [2, 0]}, val_split=0.0)
    assert data.class_names == ["virginica", "setosa"]


@pytest.mark.parametrize("classes", [[], [10], [-1], "0-4", [1, 1], [True]])
def test_bad_class_lists_are_refused_with_the_option_named(classes):
    with pytest.raises(UserError, match="dataset option 'classes'"):
        load_dataset({"name": "digits", "classes": classes})
