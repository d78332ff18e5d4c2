"""Where a sweep's study lives: the Optuna storage, opened safely, and trials a killed process left running.

The default storage is a SQLite file beside the project (`<project>.sweep.db`);
any SQLAlchemy URL Optuna accepts (PostgreSQL, MySQL) may be given instead, which
is how workers on several machines share one study (Optuna's own distributed
mode). The URL is handed to SQLAlchemy as it is: it never passes through a shell.
SQLite is opened with a long busy timeout, so several worker processes take
turns writing instead of failing with "database is locked".

The storage is the record: every trial is written there as it starts and as
it ends. A process killed mid-trial leaves its trial RUNNING; `reap_stale`
marks such a trial FAIL (its process, on this host, is gone) and enqueues its
params again, so the trial is retried, once.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from engine.errors import UserError
from graphs.errors import quoted

SQLITE_TIMEOUT_S = 120  # how long a writer waits for another process's lock
SCHEMA_RACE_TRIES = 8  # processes opening a fresh storage at once each try to create its tables
OWNER_ATTR = "owner"  # {"host", "pid", "started"}: the process that runs a trial
RETRY_ATTR = "retry_of"  # a retried trial names the trial it repeats
RETRIED_ATTR = "retried"  # a failed trial that was enqueued again: it does not count as done
SURPLUS_ATTR = "surplus"  # a trial asked for after another worker took the last place: never run, not shown


def default_storage(project_path: Path | None) -> str:
    """A SQLite URL for `<project>.sweep.db` beside the project (the working folder for an unsaved one)."""
    from sqlalchemy.engine import URL

    path = (project_path.with_suffix(".sweep.db") if project_path else Path.cwd() / "sweep.db").resolve()
    return URL.create("sqlite", database=str(path)).render_as_string(hide_password=False)


def shown_url(url: str) -> str:
    """The URL for a message: its password hidden, escaped."""
    try:
        from sqlalchemy import make_url

        return quoted(make_url(url).render_as_string(hide_password=True))
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given
        return quoted(url)


def open_storage(url: str):
    """An Optuna RDBStorage for `url`; a UserError naming the URL if it can't be opened."""
    import optuna

    sqlite = url.startswith("sqlite")
    engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}} if sqlite else {}
    for attempt in range(SCHEMA_RACE_TRIES):
        try:
            storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
            if sqlite:
                _write_ahead_log(storage.engine)
            return storage
        except Exception as error:  # noqa: BLE001 - SQLAlchemy, a driver or Optuna: each says why in its own words
            if _lost_schema_race(error) and attempt + 1 < SCHEMA_RACE_TRIES:
                time.sleep(0.05 * (attempt + 1))  # the winner is writing the tables: open them once it is done
                continue
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserError(f"cannot open the sweep storage {shown_url(url)}: {reason[:300]}") from None


def _lost_schema_race(error: Exception) -> bool:
    """Whether `error` is another process creating the same fresh storage's tables at the same moment:
    a table it made first, or the version row it wrote first. Optuna creates both without a lock."""
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    if isinstance(error, IntegrityError):
        return True
    return isinstance(error, (OperationalError, ProgrammingError)) and "already exists" in str(error)


def _write_ahead_log(engine) -> None:
    """SQLite in WAL mode, synced at checkpoints: readers (other workers, the editor) never block the writer,
    and a commit costs no fsync; a killed process still loses nothing committed (only a power cut could)."""
    from sqlalchemy import event

    def tune(connection, _record) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", tune)
    engine.dispose()  # connections opened so far are replaced by tuned ones
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")


def process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, from /proc), to tell it from a later one
    given the same pid; None where /proc can't say."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def mark_owner(trial) -> None:
    """Record on `trial` which process runs it, so a later sweep can tell whether it died."""
    pid = os.getpid()
    trial.set_user_attr(OWNER_ATTR, {"host": socket.gethostname(), "pid": pid, "started": process_start(pid)})


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return started is None or process_start(pid) in (None, started)


def reap_stale(study, storage, trials=None) -> list[int]:
    """Mark FAIL each RUNNING trial whose process (on this host) is gone, and enqueue its params again
    (a retry); the numbers of the trials reaped. Trials of other hosts are left to their own host."""
    from optuna.trial import TrialState

    host, reaped = socket.gethostname(), []
    trials = study.get_trials(deepcopy=False) if trials is None else trials
    for trial in trials:
        attrs = trial.user_attrs
        owner = attrs.get(OWNER_ATTR)
        if trial.state != TrialState.RUNNING or not isinstance(owner, dict) or owner.get("host") != host:
            continue
        if not isinstance(owner.get("pid"), int) or _alive(owner["pid"], owner.get("started")):
            continue
        try:  # the attrs first: a finished trial takes none, and whoever finishes it enqueues the retry
            storage.set_trial_user_attr(trial._trial_id, "failed_because", "its process was killed")
            storage.set_trial_user_attr(trial._trial_id, RETRIED_ATTR, True)
            if not storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                continue
        except RuntimeError:  # Optuna's UpdateFinishedTrialError: another worker reaped it first
            continue
        if RETRY_ATTR not in attrs:  # retried once: a trial that kills its process every time is not looped on
            study.enqueue_trial(trial.params, user_attrs={RETRY_ATTR: trial.number})
        reaped.append(trial.number)
    return reaped
