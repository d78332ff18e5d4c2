"""Opening a sweep's storage: processes that open the same fresh SQLite file at once all get it."""

from __future__ import annotations

import multiprocessing

import pytest

from engine.errors import UserError
from engine.sweeps import storage as stores

OPENERS = 4


def _open_at_the_barrier(url, barrier, results):
    barrier.wait()
    try:
        stores.open_storage(url)
        results.put("opened")
    except UserError as error:
        results.put(str(error))


def test_workers_opening_a_fresh_storage_at_once_all_open_it(tmp_path):
    context = multiprocessing.get_context("fork")
    for round_ in range(4):  # unguarded, most rounds lost a process to the tables' creation race
        url = f"sqlite:///{tmp_path / f'round{round_}.sweep.db'}"
        barrier, results = context.Barrier(OPENERS), context.Queue()
        openers = [context.Process(target=_open_at_the_barrier, args=(url, barrier, results))
                   for _ in range(OPENERS)]
        for process in openers:
            process.start()
        outcomes = [results.get(timeout=60) for _ in openers]
        for process in openers:
            process.join(timeout=60)
        assert outcomes == ["opened"] * OPENERS


def test_a_lost_race_is_retried_and_any_other_error_named_at_once(tmp_path, monkeypatch):
    import optuna
    from sqlalchemy.exc import IntegrityError, OperationalError

    real, calls = optuna.storages.RDBStorage, []

    def racing(url, **kwargs):  # the other process wrote the version row first, then the schema was there
        calls.append(url)
        if len(calls) == 1:
            raise IntegrityError("INSERT INTO alembic_version", {}, Exception("UNIQUE constraint failed"))
        return real(url, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    stores.open_storage(f"sqlite:///{tmp_path / 'a.db'}")
    assert len(calls) == 2

    def broken(url, **kwargs):
        calls.append(url)
        raise OperationalError("connect", {}, Exception("unable to open database file"))

    monkeypatch.setattr(optuna.storages, "RDBStorage", broken)
    calls.clear()
    with pytest.raises(UserError, match="cannot open the sweep storage .*unable to open database file"):
        stores.open_storage(f"sqlite:///{tmp_path / 'b.db'}")
    assert len(calls) == 1
