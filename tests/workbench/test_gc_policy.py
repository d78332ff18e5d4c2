"""The GUI-thread garbage collection policy (gui.workbench.gc_policy) turns automatic collection off and
collects on a timer; `release` puts automatic collection back (a benchmark applies the app's policy to its
editor rows, then runs other sections as they would run)."""

import contextlib
import gc

from gui.workbench import gc_policy


def test_the_policy_collects_on_the_gui_thread_and_release_puts_automatic_collection_back(qapp):
    was_active, was_frozen = gc_policy._collector is not None, gc_policy._frozen
    try:
        gc_policy.collect_in_gui_thread()
        gc_policy.freeze_long_lived()
        assert not gc.isenabled() and gc.get_freeze_count() > 0
        assert gc_policy._collector.timer.isActive()
        gc_policy.release()
        assert gc.isenabled() and gc.get_freeze_count() == 0 and gc_policy._collector is None
        gc_policy.release()  # twice: nothing more to undo
        assert gc.isenabled()
    finally:
        if was_active:  # as the rest of this test session had it
            gc_policy.collect_in_gui_thread()
        if was_frozen:
            gc_policy.freeze_long_lived()


def test_a_project_is_shown_without_automatic_collection_and_the_setting_comes_back(qapp):
    from graphs.document import Graph
    from graphs.project import Project
    from gui.document import DocumentController

    was_active, was_frozen = gc_policy._collector is not None, gc_policy._frozen
    gc_policy.release()  # automatic collection, as before the app's policy starts
    controller, seen = DocumentController(), []
    controller.projectReset.connect(lambda: seen.append(gc.isenabled()))
    try:
        for enabled in (True, False):  # automatic collection on, or off (as the app's collector keeps it)
            (gc.enable if enabled else gc.disable)()
            controller.set_project(Project(Graph(), name="x"))
            assert seen[-1] is False and gc.isenabled() is enabled
        gc.enable()
        with contextlib.suppress(RuntimeError), gc_policy.paused():
            seen.append(gc.isenabled())
            raise RuntimeError("a failed build")
        assert seen[-1] is False and gc.isenabled()
        with gc_policy.paused():  # the app's collector starting during a build keeps automatic collection off
            gc_policy.collect_in_gui_thread()
        assert not gc.isenabled() and gc_policy._collector is not None
    finally:
        gc_policy.release()
        if was_active:  # as the rest of this test session had it
            gc_policy.collect_in_gui_thread()
        if was_frozen:
            gc_policy.freeze_long_lived()
