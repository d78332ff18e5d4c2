"""Scene build and frame-all repaint of a large graph, offscreen (used by section 4).

Scene build: the time for the canvas to mirror a freshly opened 1,000-node document
(controller + scene items, events processed). Repaint: `frame_all()` then a full
synchronous repaint of the view's viewport. For the 10,000-node graph (`large_gui_rows`): opening
its file up to the first paint, scroll and zoom frame times, a rewire in the editor, a node deleted and the
delete undone, and a Linear added from the palette and wired."""

from __future__ import annotations

import gc
import os
import tempfile
import time
from contextlib import contextmanager

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def bench_window():
    """(QApplication, a shown 1400x900 main window) with settings in a fresh temporary folder."""
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    settings_dir = tempfile.mkdtemp(prefix="nc-bench-settings-")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
    app = QApplication.instance() or QApplication([])
    QCoreApplication.setOrganizationName("NeurocanvasBench")
    from gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    return app, window


def scene_timings(graph, repeats: int) -> tuple[list[float], list[float]]:
    from graphs.project import Project

    app, window = bench_window()
    build, paint = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        window.document.set_project(Project(graph.copy(), name="big"))
        app.processEvents()
        build.append((time.perf_counter() - start) * 1000)
        viewport = window.view.viewport()
        start = time.perf_counter()
        window.view.frame_all()
        viewport.repaint()
        paint.append((time.perf_counter() - start) * 1000)
    window.document.undo_stack.setClean()
    window.close()
    app.processEvents()
    return build, paint


ZOOMS = (("frame all", None), ("30%", 0.3), ("60%", 0.6), ("100%", 1.0))
FRAME_MS = 1000 / 60


def large_gui_rows(graph, section: str, quick: bool) -> list:
    """The 10,000-node graph in the editor, offscreen: opening its file up to the first full paint, the
    wires' background routing, scroll and zoom frame times at the zooms a user uses (against drawing
    every item in full, as the canvas did before it had levels of detail), and one rewire in the editor
    (document, inference, validation, every panel that follows the result, a repaint): a wire taken away and
    put back, and a wire's end moved to a different source and back."""
    import statistics

    from bench.common import Row, percentile
    from graphs.project import Project, save_project

    app, window = bench_window()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "big.json")
        save_project(Project(graph.copy(), name="big"), path)
        routed = []
        opens = open_times(window, app, path, 1 if quick else 3, routed)
        phases = open_phases(window, app, path)
    rows.append(Row(section, "open its file in the editor, to the first paint", statistics.median(opens), "ms",
                    "< 3000 ms", statistics.median(opens) < 3000,
                    f"{min(opens):.0f}-{max(opens):.0f} ms over {len(opens)} repeats",
                    "load, validate, infer shapes, build the scene, frame it, paint; offscreen"))
    rows.append(Row(section, "open its file, by phase (once more, to the first paint)", sum(phases.values()), "ms", "",
                    None, ", ".join(f"{name} {ms:.0f} ms" for name, ms in phases.items()),
                    "where the opening time goes"))
    rows.append(Row(section, "every wire routed (in the background, after the first paint)",
                    statistics.median(routed), "ms", "", None,
                    f"{min(routed):.0f}-{max(routed):.0f} ms", "the view stays responsive: 8 ms slices"))
    frames = frame_timings(window, 15 if quick else 40)
    for label, times in frames.items():
        p95 = percentile(times, 95)
        rows.append(Row(section, f"scroll and zoom frame at {label} (p95)", p95, "ms", f"< {FRAME_MS:.1f} ms",
                        p95 < FRAME_MS, f"median {statistics.median(times):.1f} ms over {len(times)} frames",
                        "a full repaint of a 1400x900 window's canvas"))
    from gui.canvas import detail

    lod_on = frames["frame all"]
    saved, detail.TEXT_SCALE = detail.TEXT_SCALE, 0.0  # every item drawn in full, as before levels of detail
    try:
        lod_off = frame_timings(window, 15 if quick else 40, only="frame all")["frame all"]
    finally:
        detail.TEXT_SCALE = saved
    ratio = percentile(lod_off, 95) / max(percentile(lod_on, 95), 1e-6)
    rows.append(Row(section, "frame at frame all: full drawing / level of detail (p95)", ratio, "x", "", None,
                    f"{percentile(lod_off, 95):.1f} ms vs {percentile(lod_on, 95):.1f} ms", "how much LOD saves"))
    with app_garbage_collection():
        rows += editor_rows(window, app, section, quick)
    window.document.undo_stack.setClean()
    window.close()
    app.processEvents()
    return rows


GC_NOTE = ("garbage collected as the app does once its engine has loaded (gui.workbench.gc_policy: automatic "
           "collection off, young generations on a GUI-thread timer between events, the rest frozen)")


@contextmanager
def app_garbage_collection():
    """Collect garbage as the app does once its engine has loaded (`gui.workbench.gc_policy`): automatic
    collection off, the young generations collected on a GUI-thread timer when the event loop turns, everything
    alive then frozen out of later collections; automatic collection again afterwards, for what runs next."""
    from gui.workbench import gc_policy

    gc_policy.collect_in_gui_thread()
    gc_policy.freeze_long_lived()
    try:
        yield
    finally:
        gc_policy.release()


def editor_rows(window, app, section: str, quick: bool) -> list:
    """One rewire in the editor, at 100% and at frame all, a rewire to a different source, a different wire
    edited each time, a node deleted and undone, a node added and wired (p95 of the time from the edit to the
    repaint)."""
    import statistics

    from bench.common import Row, percentile

    rows = []
    edits = editor_rewires(window, app, 10 if quick else 40, zoom=1.0)
    p95 = percentile(edits, 95)
    rows.append(Row(section, "rewire in the editor, to the repaint (p95)", p95, "ms", "< 16 ms", p95 < 16,
                    f"median {statistics.median(edits):.1f} ms over {len(edits)} edits",
                    "at 100% centred on the wire (a zoom where ports can be grabbed): the document, inference, "
                    "validation, the scene, summary table, status bar and fix marks follow the new result, "
                    f"then the one repaint Qt makes; {GC_NOTE}"))
    edits = editor_rewires(window, app, 10 if quick else 40, zoom=None)
    rows.append(Row(section, "rewire in the editor at frame all, to the repaint (p95)", percentile(edits, 95), "ms",
                    "", None, f"median {statistics.median(edits):.1f} ms over {len(edits)} edits",
                    f"the same with all 10,000 nodes on screen: the repaint alone is a frame at frame all; {GC_NOTE}"))
    left: list[int] = []
    edits = editor_reconnects(window, app, 10 if quick else 40, zoom=1.0, left=left)
    p95 = percentile(edits, 95)
    rows.append(Row(section, "rewire to a different source in the editor, to the repaint (p95)", p95, "ms",
                    "< 16 ms", p95 < 16, f"median {statistics.median(edits):.1f} ms over {len(edits)} edits; to the "
                    f"other source {statistics.median(edits[0::2]):.1f} ms, back {statistics.median(edits[1::2]):.1f} ms; "
                    f"{statistics.median(left):.0f} objects left per edit for the collector (the undo step)",
                    "at 100%: a wire's source end dragged to an Input of another shape and back (one undo step "
                    "each); the Add below then reports an error and the ~2,000 nodes below lose their shapes, "
                    f"and get them back; {GC_NOTE}"))
    edits = editor_other_wires(window, app, 10 if quick else 40)
    p95 = percentile(edits, 95)
    rows.append(Row(section, "a different wire taken away each time and put back (undo), to the repaint (p95)", p95,
                    "ms", "< 16 ms", p95 < 16, f"median {statistics.median(edits):.1f} ms over {len(edits)} edits; "
                    f"taken away {statistics.median(edits[0::2]):.1f} ms, undone {statistics.median(edits[1::2]):.1f} ms",
                    "at 100%: the first input wire of each of the nodes before the one the rows above rewire, in "
                    "turn, as a user edits one wire after another (the rows above edit the same wire over and over); "
                    f"{GC_NOTE}"))
    edits = editor_deletes(window, app, 10 if quick else 40)
    for label, times in (("delete a mid-graph node with its wires", edits[0::2]),
                         ("undo the delete (the node back at its place)", edits[1::2])):
        p95 = percentile(times, 95)
        rows.append(Row(section, f"{label}, to the repaint (p95)", p95, "ms", "< 16 ms", p95 < 16,
                        f"median {statistics.median(times):.1f} ms over {len(times)} edits",
                        "at 100%: a different LayerNorm each time (its 2 wires go with it) through the document "
                        f"controller, as the Delete key does, then undone; {GC_NOTE}"))
    edits = editor_additions(window, app, 5 if quick else 20)
    for label, times in (("add a Linear from the palette", edits[0::4]), ("wire the new Linear", edits[1::4]),
                         ("undo the wire and the Linear", edits[2::4] + edits[3::4])):
        p95 = percentile(times, 95)
        rows.append(Row(section, f"{label}, to the repaint (p95)", p95, "ms", "< 16 ms", p95 < 16,
                        f"median {statistics.median(times):.1f} ms over {len(times)} edits",
                        f"at 100%: a Linear dropped beside a mid-graph node and wired from it; {GC_NOTE}"))
    return rows


def editor_deletes(window, app, count: int) -> list[float]:
    """Delete a different mid-graph LayerNorm each time, with its wires (`DocumentController.remove`, as the
    Delete key does), and undo that; ms from each edit to the repaint (delete, undo, delete, ...)."""
    document = window.document
    ids = document.graph.node_ids()
    middle = len(ids) // 2
    norms = [n for n in ids[middle:] if document.graph.node(n).type == "LayerNorm"][:count]
    edits = []
    for node_id in norms:
        edits += [lambda node_id=node_id: document.remove([node_id]), document.undo_stack.undo]
    return timed_edits(window, app, norms[0], 1.0, 1, edits)


def editor_additions(window, app, count: int) -> list[float]:
    """Add a Linear beside a mid-graph node as the palette does, wire the node into it, and undo both
    (`count` times); ms from each edit to the repaint (add, wire, undo, undo, ...)."""
    document = window.document
    target = document.graph.node_ids()[len(document.graph) // 2]
    x, y = document.graph.node(target).position
    added = []

    def add():
        added.append(document.add_node("Linear", (x + 60, y + 200)))

    def wire():
        document.connect(target, "out", added[-1], "in")

    return timed_edits(window, app, target, 1.0, count, (add, wire, document.undo_stack.undo,
                                                         document.undo_stack.undo))


def editor_other_wires(window, app, count: int) -> list[float]:
    """Take away the first input wire of each of the `count` nodes before the one `editor_rewires` edits, and
    undo that, in turn (one wire after another, as a user edits); ms from each edit to the repaint."""
    document = window.document
    ids = document.graph.node_ids()
    target = ids[len(ids) * 4 // 5]
    edits = []
    for node_id in ids[len(ids) * 4 // 5 - count:len(ids) * 4 // 5]:
        edge = document.graph.in_edges(node_id)[0]
        edits += [lambda edge=edge: document.disconnect([edge]), document.undo_stack.undo]
    return timed_edits(window, app, target, 1.0, 1, edits)


def open_times(window, app, path: str, repeats: int, routed: list | None = None) -> list[float]:
    """ms from File > Open's code path to the first full paint of the canvas, `repeats` times; with `routed`,
    also to the end of the background work after it (every wire routed), appended there."""
    times = []
    for _ in range(repeats):
        window.document.undo_stack.setClean()
        start = time.perf_counter()
        assert window.open_project(path)
        app.processEvents()  # the view frames the graph
        window.view.viewport().repaint()
        times.append((time.perf_counter() - start) * 1000)
        if routed is not None:
            while window.scene.updates_pending():
                app.processEvents()
            routed.append((time.perf_counter() - start) * 1000)
    return times


def open_phases(window, app, path) -> dict[str, float]:
    """Open `path` as `MainWindow.open_project` does, timing each phase (ms): reading the file, the
    document taking it (inference, the canvas's items, the panels that follow), framing and the first paint."""
    from graphs.project import load_project

    window.document.undo_stack.setClean()
    times, start = {}, time.perf_counter()
    project = load_project(path)
    times["load"], start = (time.perf_counter() - start) * 1000, time.perf_counter()
    window._set_project(project)
    times["inference, scene and panels"], start = (time.perf_counter() - start) * 1000, time.perf_counter()
    app.processEvents()
    window.view.viewport().repaint()
    times["framing and first paint"] = (time.perf_counter() - start) * 1000
    while window.scene.updates_pending():
        app.processEvents()
    return times


def frame_timings(window, steps: int, only: str | None = None) -> dict[str, list[float]]:
    """Repaint times (ms) of the canvas while it scrolls and zooms, at each of `ZOOMS`."""
    view = window.view
    viewport = view.viewport()
    centre = window.scene.nodes_rect().center()
    out = {}
    for label, zoom in ZOOMS:
        if only is not None and label != only:
            continue
        view.fit()
        zoom = zoom or view.zoom
        view.set_zoom(zoom)
        view.centerOn(centre)
        viewport.repaint()
        times = []
        for i in range(steps):
            if i % 2:  # a wheel notch in or out around the zoom
                view.set_zoom(zoom * (1.1 if i % 4 == 1 else 1 / 1.1))
            else:  # a scroll step
                bar = view.horizontalScrollBar()
                bar.setValue(bar.value() + (40 if i % 8 < 4 else -40))
            start = time.perf_counter()
            viewport.repaint()
            times.append((time.perf_counter() - start) * 1000)
        out[label] = times
    return out


def editor_rewires(window, app, count: int, zoom: float | None = 1.0) -> list[float]:
    """Take a mid-graph wire away and put it back, each through the document controller (one undo
    command), until the result is shown and the canvas repainted; ms per edit. The view shows the wire at
    `zoom` (None: the whole graph)."""
    document = window.document
    target = document.graph.node_ids()[len(document.graph) * 4 // 5]
    edge = document.graph.in_edges(target)[0]
    return timed_edits(window, app, target, zoom, count, (
        lambda: document.disconnect([edge]),
        lambda: document.connect(edge.source, edge.source_port, edge.target, edge.target_port)))


OTHER_SOURCE = {"shape": [2, 32]}  # an Input of another shape than the model's: the Add below cannot take it


def editor_reconnects(window, app, count: int, zoom: float | None = 1.0, left: list | None = None) -> list[float]:
    """Move a mid-graph wire's source end to another node and back, as dragging it does (one undo command
    each: `DocumentController.reconnect`), until the result is shown and the canvas repainted; ms per edit.
    The other node is an Input of another shape placed beside the wire's target, so the region below
    changes each time: to it, the Add below reports an error and every node below loses its shapes; back,
    they get them again. `left` (if given) receives the number of objects each edit leaves to the garbage
    collector (tracked objects made and still alive)."""
    from graphs.document import Edge

    document = window.document
    target = document.graph.node_ids()[len(document.graph) * 4 // 5]
    first = document.graph.in_edges(target)[0]
    x, y = document.graph.node(target).position
    other = Edge(document.add_node("Input", (x - 200, y + 150), OTHER_SOURCE), target, "out", first.target_port)
    document.flush()
    while window.scene.updates_pending():  # its wire routed before the timing starts
        app.processEvents()
    return timed_edits(window, app, target, zoom, count, (lambda: document.reconnect(first, other),
                                                          lambda: document.reconnect(other, first)), left)


def timed_edits(window, app, target: str, zoom: float | None, count: int, edits, left: list | None = None
                ) -> list[float]:
    """Run the `edits` in turn, `count` times, with the view on node `target` at `zoom` (None: the whole
    graph); ms from each edit to its result shown and the canvas repainted. The repaint is the one Qt makes
    when the event loop turns (the canvas asks for it when a result changes what it shows); one is forced
    if none came. `left`: see `editor_reconnects`."""
    from bench.paint_events import PaintCounter

    document, view = window.document, window.view
    view.fit()
    if zoom is not None:
        view.set_zoom(zoom)
        view.centerOn(window.scene.node_item(target).sceneBoundingRect().center())
    viewport = view.viewport()
    viewport.repaint()
    paints = PaintCounter()
    viewport.installEventFilter(paints)
    times = []
    try:
        for _ in range(count):
            for edit in edits:
                before, young = paints.count, gc.get_count()[0]
                start = time.perf_counter()
                edit()
                document.flush()
                app.processEvents()
                if paints.count == before:
                    viewport.repaint()
                times.append((time.perf_counter() - start) * 1000)
                if left is not None and gc.get_count()[0] >= young:  # (not when a collection ran meanwhile)
                    left.append(gc.get_count()[0] - young)
    finally:
        viewport.removeEventFilter(paints)
    return times
