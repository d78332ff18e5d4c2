"""The dialog for a run refused by the memory check (engine.memory_estimate): one click sets the batch size.

The trainer refuses a run whose estimated peak exceeds the device's free memory, and its message
names the largest batch size that fits. `offer_batch_size` shows that message with a button
"Set Batch Size to N", which applies it as one undoable Training-settings edit (SetTraining).
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from engine.memory_estimate import batch_size_that_fits
from graphs.errors import printable

TITLE = "Not enough memory"


def refusal_box(parent, message: str, batch_size: int) -> tuple[QMessageBox, object]:
    """The dialog (not shown yet) and its "Set Batch Size to N" button."""
    box = QMessageBox(QMessageBox.Icon.Warning, TITLE, printable(message), QMessageBox.StandardButton.Cancel, parent)
    box.setObjectName("memoryRefusal")
    set_button = box.addButton(f"Set Batch Size to {batch_size:,}", QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(set_button)
    return box, set_button


def set_batch_size(settings, batch_size: int) -> bool:
    """The batch size as one undo step of the Training settings; False when it is already that."""
    training = settings.training
    training["batch_size"] = batch_size
    return settings.update(training, f"Set batch size to {batch_size}", "batch_size")


def offer_batch_size(window, settings, message: str) -> bool:
    """For a memory refusal: show it, and set the batch size when the user clicks the button; True when
    `message` was one (then it has been shown), False for any other refusal."""
    batch_size = batch_size_that_fits(message)
    if not batch_size:
        return False
    box, set_button = refusal_box(window, message, batch_size)
    box.exec()
    if box.clickedButton() is set_button:
        set_batch_size(settings, batch_size)
        window.show_message(f"Batch size set to {batch_size:,}; start the run again (F5)")
    else:
        window.show_message("Not started: not enough memory")
    return True
