"""Files the application ships: example projects, icons and the style sheet (package data, so a
regular `pip install .` carries them as well as an editable install)."""
