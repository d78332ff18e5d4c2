"""The Neurocanvas node editor (PySide6).

`gui.app.run` starts it. The document layer (`graphs`) knows nothing of Qt; the
`DocumentController` in `gui.document` adapts its events to Qt signals and owns
the undo stack. Every widget here observes the controller and edits only
through it, so every edit is one undo command. Nothing in this package imports
torch at start-up.
"""
