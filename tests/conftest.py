"""Test set-up shared by the whole suite: Qt renders offscreen, hypothesis is kept quick."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from hypothesis import HealthCheck, settings  # noqa: E402

# `make test` explores the same examples on every run, so CI on a clean clone is reproducible;
# `make fuzz` draws new ones each time and runs ten times as many.
settings.register_profile("default", deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", deadline=None, max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("fuzz" if os.environ.get("NEUROCANVAS_FUZZ") else "default")
