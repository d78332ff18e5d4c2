"""A project's run history: the record each run leaves in its folder (`record`), reading a folder back
(`folders`), the SQLite index that makes listing hundreds of runs fast (`index`), comparing two runs
(`compare`), deleting one (`delete`) and TensorBoard event files (`tensorboard`).

Only `record` and `tensorboard` run inside training; everything else reads files and imports no torch,
so the editor and `main.py runs` list a history without loading the engine.
"""
