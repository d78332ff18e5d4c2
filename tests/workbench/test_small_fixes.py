"""The small things a new user hit (issue 11, item 11): run buttons that look enabled when they are,
finished runs not shown as failures, the per-class table numbered by class."""

from PySide6.QtGui import QColor, QIcon


def brightness(action) -> float:
    """Mean lightness (0-255) of the opaque pixels of `action`'s icon as drawn in its current state."""
    mode = QIcon.Mode.Normal if action.isEnabled() else QIcon.Mode.Disabled
    image = action.icon().pixmap(24, mode).toImage()
    values = [QColor(image.pixel(x, y)).lightness() for x in range(image.width()) for y in range(image.height())
              if QColor.fromRgba(image.pixel(x, y)).alpha() > 128]
    assert values, f"{action.text()}: the icon is empty"
    return sum(values) / len(values)


def test_enabled_start_is_clearly_brighter_than_disabled_pause_and_stop(bench):
    a = bench.actions.a
    assert a.start.isEnabled() and not a.pause.isEnabled() and not a.stop.isEnabled()
    start, pause, stop = brightness(a.start), brightness(a.pause), brightness(a.stop)
    assert start > max(pause, stop) + 40, (start, pause, stop)
    bench.actions.set_state("running")  # and the other way round while a run goes
    assert min(brightness(a.pause), brightness(a.stop)) > brightness(a.start) + 40
    bench.actions.set_state("idle")
