"""Persisting a ProbabilityModelAgent in its own DuckDB file (atomic: a uniquely named temp file + rename).

A file that cannot be read is a :class:`StateError` (never silently reset);
temp files of dead processes are removed by :func:`ems.data.atomic.clean_temps`.

Tables: ``pmf_state`` (device, day_type, n, js_recent, pmf DOUBLE[]) and
``pmf_updates`` (every update: device, day_type, day, n, lr, before, after,
delta, js_step, js_prior, entropy, top_shift, used_hours, at_utc).
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from ems.data.atomic import temp_name
from ems.data.errors import DataError
from ems.learning.pmf import ProbabilityModelAgent, Update

log = logging.getLogger(__name__)


class StateError(DataError):
    """A saved state file that cannot be read (truncated, not DuckDB, missing tables)."""


def updates_frame(agent: ProbabilityModelAgent) -> pl.DataFrame:
    """Every archived update as a frame (one row per update)."""
    if not agent.history:
        return pl.DataFrame()
    return pl.DataFrame([asdict(u) for u in agent.history])


def save(agent: ProbabilityModelAgent, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    state = pl.DataFrame(
        [{"device": d, "day_type": t, "n": agent.counts.get((d, t), 0), "js_recent": agent.js_recent.get((d, t), 0.0),
          "pmf": p.tolist()} for (d, t), p in agent.pmfs.items()],
        schema={"device": pl.String, "day_type": pl.String, "n": pl.Int64, "js_recent": pl.Float64,
                "pmf": pl.List(pl.Float64)})
    updates = updates_frame(agent)
    try:
        with duckdb.connect(str(tmp)) as con:
            con.register("state", state.to_arrow())
            con.execute("CREATE TABLE pmf_state AS SELECT * FROM state")
            if not updates.is_empty():
                con.register("updates", updates.to_arrow())
                con.execute("CREATE TABLE pmf_updates AS SELECT * FROM updates")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)


def check(path: Path) -> str | None:
    """None when ``path`` is missing or a readable state file; else what :func:`load` would report."""
    try:
        _read(Path(path))
    except StateError as exc:
        return str(exc)
    return None


def load(agent: ProbabilityModelAgent, path: Path) -> bool:
    """Restore ``agent`` from ``path``; False when there is no saved state; a StateError naming the
    file when it cannot be read (``agent`` is then unchanged)."""
    path = Path(path)
    if not path.is_file():
        return False
    pmfs, counts, js_recent, history = _read(path)
    agent.pmfs, agent.counts, agent.js_recent, agent.history = pmfs, counts, js_recent, history
    agent.learned = {(u.device, u.day) for u in history}
    return True


def read_frames(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The saved tables of ``path`` as frames: ``pmf_state`` and ``pmf_updates`` (in update order; empty when
    none was archived); a StateError naming the file when it cannot be read."""
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            state = pl.from_arrow(con.sql("SELECT * FROM pmf_state").to_arrow_table())
            tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
            updates = pl.from_arrow(con.sql("SELECT * FROM pmf_updates ORDER BY at_utc").to_arrow_table()) \
                if "pmf_updates" in tables else pl.DataFrame()
    except Exception as exc:  # noqa: BLE001 - duckdb or Arrow: the file is not a state file
        raise _unreadable(path, exc) from None
    return state, updates


def _unreadable(path: Path, exc: Exception) -> StateError:
    return StateError(f"{path}: saved PMF state cannot be read ({type(exc).__name__}: "
                      f"{str(exc).splitlines()[0][:160] if str(exc) else ''}); restore it from a backup or "
                      f"move it aside to start from the prior")


def _read(path: Path) -> tuple[dict, dict, dict, list[Update]]:
    """(pmfs, counts, js_recent, history) saved in ``path``; a StateError naming the file when unreadable."""
    if not path.is_file():
        return {}, {}, {}, []
    state, updates = read_frames(path)
    try:
        pmfs, counts, js_recent = {}, {}, {}
        for row in state.iter_rows(named=True):
            key = (row["device"], row["day_type"])
            pmfs[key] = np.asarray(row["pmf"], float)
            if row["n"]:  # a PMF that was only read (never updated) has no count yet
                counts[key], js_recent[key] = row["n"], row["js_recent"]
        history = [Update(**row) for row in updates.iter_rows(named=True)]
    except Exception as exc:  # noqa: BLE001 - a missing column: the file is not a state file
        raise _unreadable(path, exc) from None
    return pmfs, counts, js_recent, history
