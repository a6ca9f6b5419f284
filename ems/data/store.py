"""The embedded DuckDB store: schema, writes and the queries experiments use.

Tables (timestamps are naive ``TIMESTAMP`` values meaning UTC; ``local_date``
is the Europe/Berlin calendar day of the hour's start):

* ``sources``: one row per ingested file (path, sha256, kind, layout, rows).
* ``buildings``: building, opsd_prefix, layout, source_sha256, first_utc, last_utc.
* ``devices``: building, device, flex_model (discrete_phase, partial_usage,
  continuous, none, generation, grid), unit ('kWh'), first_utc, last_utc,
  hours, valid_hours.
* ``readings``: building, device, utc_hour, local_date, meter_kwh (cumulative
  meter at utc_hour), energy_kwh (kWh in [utc_hour, utc_hour+1h), NULL when
  unknown), flags (:class:`ems.data.quality.Quality` bits), valid, learnable.
* ``prices``: utc_hour, local_date, price_eur_mwh, zone.
* ``weather``: utc_hour, local_date, region, temperature_c (deg C), direct_wm2 and
  diffuse_wm2 (horizontal irradiance, W/m2, hourly mean; NULL where the source had none).
* ``quality_flags``: bit, name, meaning (documents ``readings.flags``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from ems.data.calendar import local_day_hours
from ems.data.errors import DataError
from ems.data.quality import MEANING

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    path VARCHAR, sha256 VARCHAR, kind VARCHAR, layout VARCHAR, rows BIGINT,
    ingested_utc TIMESTAMP DEFAULT (now() AT TIME ZONE 'UTC'));
CREATE TABLE IF NOT EXISTS buildings (
    building VARCHAR PRIMARY KEY, opsd_prefix VARCHAR, layout VARCHAR, source_sha256 VARCHAR,
    first_utc TIMESTAMP, last_utc TIMESTAMP);
CREATE TABLE IF NOT EXISTS devices (
    building VARCHAR, device VARCHAR, flex_model VARCHAR, unit VARCHAR,
    first_utc TIMESTAMP, last_utc TIMESTAMP, hours BIGINT, valid_hours BIGINT,
    PRIMARY KEY (building, device));
CREATE TABLE IF NOT EXISTS readings (
    building VARCHAR, device VARCHAR, utc_hour TIMESTAMP, local_date DATE,
    meter_kwh DOUBLE, energy_kwh DOUBLE, flags USMALLINT, valid BOOLEAN, learnable BOOLEAN);
CREATE TABLE IF NOT EXISTS prices (
    utc_hour TIMESTAMP PRIMARY KEY, local_date DATE, price_eur_mwh DOUBLE, zone VARCHAR);
CREATE TABLE IF NOT EXISTS weather (
    utc_hour TIMESTAMP, local_date DATE, region VARCHAR, temperature_c DOUBLE,
    PRIMARY KEY (utc_hour, region));
ALTER TABLE weather ADD COLUMN IF NOT EXISTS direct_wm2 DOUBLE;
ALTER TABLE weather ADD COLUMN IF NOT EXISTS diffuse_wm2 DOUBLE;
CREATE TABLE IF NOT EXISTS quality_flags (bit USMALLINT PRIMARY KEY, name VARCHAR, meaning VARCHAR);
"""

INGEST_HINT = "python -m ems data ingest"


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table (idempotent) and (re)write the quality flag legend."""
    con.execute(SCHEMA)
    con.execute("DELETE FROM quality_flags")
    legend = pl.DataFrame(
        {"bit": [int(f) for f in MEANING], "name": [f.name for f in MEANING], "meaning": list(MEANING.values())}
    )
    insert(con, "quality_flags", legend, "bit, name, meaning")


def insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, columns: str = "*",
           replace_where: str | None = None) -> None:
    """Insert a Polars frame (handed over as Arrow) into ``table``.

    ``replace_where`` first deletes the rows it matches, with ``new`` naming
    the incoming frame, e.g. ``"utc_hour IN (SELECT utc_hour FROM new)"``.
    """
    con.register("new", frame.to_arrow())
    try:
        if replace_where:
            con.execute(f"DELETE FROM {table} WHERE {replace_where}")
        con.execute(f"INSERT INTO {table} SELECT {columns} FROM new")
    finally:
        con.unregister("new")


class Store:
    """Read-only access to an ingested database (safe for parallel workers)."""

    def __init__(self, path: Path | str, timezone: str = "Europe/Berlin"):
        self.path = Path(path)
        self.timezone = timezone
        if not self.path.is_file():
            raise DataError(f"{self.path}: no ems database here; build it with `{INGEST_HINT}`")
        try:
            self.con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.IOException as exc:  # not a DuckDB file, or one written by a newer DuckDB
            raise DataError(f"{self.path}: cannot be opened as an ems database ({str(exc).splitlines()[0]}); "
                            f"rebuild it with `{INGEST_HINT}`") from None

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, sql: str, params: list | None = None) -> pl.DataFrame:
        """Run SQL and return a Polars frame (via Arrow)."""
        return pl.from_arrow(self.con.sql(sql, params=params or None).to_arrow_table())

    def buildings(self) -> list[str]:
        return self.query("SELECT building FROM buildings ORDER BY building")["building"].to_list()

    def require_building(self, building: str, source_hint: str) -> None:
        """Fail with one line naming what to ingest when ``building`` has no readings."""
        if building not in self.buildings():
            raise DataError(
                f"building {building}: no readings in {self.path}; ingest {source_hint} "
                f"(`{INGEST_HINT} PATH`; have: {', '.join(self.buildings()) or 'none'})"
            )

    def devices(self, building: str) -> pl.DataFrame:
        return self.query("SELECT * FROM devices WHERE building = ? ORDER BY device", [building])

    def local_dates(self, building: str) -> list[date]:
        """Every local day on which any meter of ``building`` has a reading, in order."""
        sql = "SELECT DISTINCT local_date FROM readings WHERE building = ? ORDER BY local_date"
        return self.query(sql, [building])["local_date"].to_list()

    def energy_wide(self, building: str, first: date, last: date) -> pl.DataFrame:
        """Hourly energy per device over local days [first, last], wide.

        Columns: utc_hour, local_date, then ``<device>`` (kWh, NULL when not
        valid) and ``<device>__learnable`` per device. Every UTC hour of those
        local days is present once; an hour a meter did not cover is NULL.
        """
        long = self.query(
            """SELECT device, utc_hour, local_date, CASE WHEN valid THEN energy_kwh END AS energy_kwh, learnable
               FROM readings WHERE building = ? AND local_date BETWEEN ? AND ?""",
            [building, first, last],
        )
        hours = self.hours(first, last)
        if long.is_empty():
            return hours
        energy = long.pivot(on="device", index="utc_hour", values="energy_kwh", aggregate_function=None)
        learn = long.pivot(on="device", index="utc_hour", values="learnable", aggregate_function=None)
        learn = learn.rename({c: f"{c}__learnable" for c in learn.columns if c != "utc_hour"})
        return hours.join(energy, on="utc_hour", how="left").join(learn, on="utc_hour", how="left").sort("utc_hour")

    def hours(self, first: date, last: date) -> pl.DataFrame:
        """UTC hours of local days [first, last] with local_hour and price (EUR/MWh; NULL if absent)."""
        hours = local_day_hours(first, last, self.timezone)
        prices = self.query(
            "SELECT utc_hour, price_eur_mwh FROM prices WHERE local_date BETWEEN ? AND ?", [first, last]
        )
        return hours.join(prices, on="utc_hour", how="left").sort("utc_hour")

    def table_counts(self) -> dict[str, int]:
        names = ["sources", "buildings", "devices", "readings", "prices", "weather"]
        # fetchall, not fetchone: DuckDB 2 keeps a partly fetched result open and refuses the next query
        return {n: self.con.execute(f"SELECT count(*) FROM {n}").fetchall()[0][0] for n in names}
