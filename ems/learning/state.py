"""Persisting a ProbabilityModelAgent in its own DuckDB file (atomic: temp file + rename).

Tables: ``pmf_state`` (device, day_type, n, js_recent, pmf DOUBLE[]) and
``pmf_updates`` (every update: device, day_type, day, n, lr, before, after,
delta, js_step, js_prior, entropy, top_shift, used_hours, at_utc).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from ems.learning.pmf import ProbabilityModelAgent, Update


def updates_frame(agent: ProbabilityModelAgent) -> pl.DataFrame:
    """Every archived update as a frame (one row per update)."""
    if not agent.history:
        return pl.DataFrame()
    return pl.DataFrame([asdict(u) for u in agent.history])


def save(agent: ProbabilityModelAgent, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
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


def load(agent: ProbabilityModelAgent, path: Path) -> bool:
    """Restore ``agent`` from ``path``; False when there is no saved state."""
    path = Path(path)
    if not path.is_file():
        return False
    with duckdb.connect(str(path), read_only=True) as con:
        state = pl.from_arrow(con.sql("SELECT * FROM pmf_state").to_arrow_table())
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        updates = pl.from_arrow(con.sql("SELECT * FROM pmf_updates ORDER BY at_utc").to_arrow_table()) \
            if "pmf_updates" in tables else pl.DataFrame()
    for row in state.iter_rows(named=True):
        key = (row["device"], row["day_type"])
        agent.pmfs[key] = np.asarray(row["pmf"], float)
        if row["n"]:  # a PMF that was only read (never updated) has no count yet
            agent.counts[key], agent.js_recent[key] = row["n"], row["js_recent"]
    agent.history = [Update(**row) for row in updates.iter_rows(named=True)]
    agent.learned = {(u.device, u.day) for u in agent.history}
    return True
