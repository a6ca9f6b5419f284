"""Build the DuckDB store from OPSD household files, prices and weather.

Ingest is idempotent (a building, price hour or weather hour ingested again
replaces its old rows) and atomic (the new database is written to a temporary
file and moved over the old one only when complete; a failure leaves the old
database untouched). One building comes from one file per run: mixing two
OPSD releases of a building in one series is refused.

Before anything is replaced each file is checked: no line cut off at the end
(a broken download), data rows under the expected columns, a household file
spanning at least ``data.ingest.min_span_hours``; a building whose readings
would shrink by more than ``data.ingest.max_drop_share`` is refused unless
``force`` (``--force``). Ingests into one database take turns (a lock file
beside it; a second one waits up to ``data.ingest.lock_timeout_s``), and the
temp files of ingests that were killed are removed.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

import filelock

from ems.data.atomic import clean_temps, file_lock, temp_name
from ems.data.calendar import with_local_date
from ems.data.cleaning import CleaningConfig, clean_household
from ems.data.errors import DataError
from ems.data.layouts import HouseholdFile, SeriesFile, read_any
from ems.data.store import create_schema, insert

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one ingest wrote: buildings, row counts, seconds and database size."""

    db: Path
    buildings: list[str] = field(default_factory=list)
    readings: int = 0
    prices: int = 0
    weather: int = 0
    seconds: float = 0.0
    db_bytes: int = 0

    def summary(self) -> str:
        return (
            f"ingested {len(self.buildings)} building(s) [{', '.join(self.buildings)}], {self.readings:,} readings, "
            f"{self.prices:,} price hours, {self.weather:,} weather hours into {self.db} "
            f"({self.db_bytes / 1e6:.1f} MB) in {self.seconds:.1f} s"
        )


def shipped_paths(data_cfg: DictConfig) -> list[Path]:
    """The files listed under ``data.shipped``, resolved in ``data.shipped_dir``."""
    return [Path(data_cfg.shipped_dir) / name for name in data_cfg.shipped]


@dataclass(frozen=True)
class IngestGuards:
    """See ``data.ingest`` in ``conf/data/default.yaml``."""

    max_drop_share: float = 0.1
    min_span_hours: int = 24
    lock_timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if not 0 <= self.max_drop_share <= 1:
            raise ValueError(f"data.ingest.max_drop_share={self.max_drop_share}: must be in [0, 1]")
        if self.min_span_hours < 1 or self.lock_timeout_s < 0:
            raise ValueError("data.ingest.min_span_hours must be >= 1 and data.ingest.lock_timeout_s >= 0")


def _guards(data_cfg: DictConfig) -> IngestGuards:
    node = data_cfg.get("ingest")
    return IngestGuards(**OmegaConf.to_container(node, resolve=True)) if node else IngestGuards()


def ingest(paths: list[Path], data_cfg: DictConfig, db: Path | None = None, force: bool = False,
           only_if_missing: bool = False) -> IngestReport | None:
    """Parse, check, clean and store ``paths`` into the database (``data.db`` unless ``db``).

    ``force`` replaces a building even when its readings shrink by more than
    ``data.ingest.max_drop_share``. ``only_if_missing``: do nothing (None)
    when the database exists once the lock is held (a first run's ingest).
    """
    db = Path(db or data_cfg.db)
    guards = _guards(data_cfg)
    db.parent.mkdir(parents=True, exist_ok=True)
    lock = file_lock(db, guards.lock_timeout_s)
    try:
        with lock:
            if only_if_missing and db.is_file():
                return None
            clean_temps(db.parent, db.name)
            return _ingest_locked(paths, data_cfg, db, guards, force)
    except filelock.Timeout:
        raise DataError(f"{db}: another ingest is writing this database (lock {lock.lock_file} held for over "
                        f"data.ingest.lock_timeout_s={guards.lock_timeout_s:g} s); wait for it to finish") from None


def _ingest_locked(paths: list[Path], data_cfg: DictConfig, db: Path, guards: IngestGuards,
                   force: bool) -> IngestReport:
    started = time.perf_counter()
    sources = [read_any(Path(p)) for p in tqdm(paths, desc="reading", unit="file", leave=False, disable=None)]
    _refuse_mixed_releases(sources)
    for source in sources:
        _check_span(source, guards)
    cleaning = CleaningConfig(**OmegaConf.to_container(data_cfg.cleaning, resolve=True))
    flex_models = dict(data_cfg.flex_models)
    report = IngestReport(db=db)
    tmp = temp_name(db)
    try:
        if db.exists():
            shutil.copyfile(db, tmp)
        con = duckdb.connect(str(tmp))
        try:
            create_schema(con)
            con.execute("BEGIN TRANSACTION")
            for source in tqdm(sources, desc="ingesting", unit="file", disable=None):  # terminal only
                if isinstance(source, HouseholdFile):
                    readings = clean_household(
                        source, cleaning, flex_models, data_cfg.timezone,
                        data_cfg.site.latitude_deg, data_cfg.site.longitude_deg,
                    )
                    _check_drop(con, source, readings, guards, force)
                    report.buildings += _write_household(con, source, readings)
                    report.readings += readings.height
                elif source.kind == "prices":
                    report.prices += _write_prices(con, source, data_cfg)
                else:
                    report.weather += _write_weather(con, source, data_cfg.timezone)
                _write_source(con, source)
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, db)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    report.seconds = time.perf_counter() - started
    report.db_bytes = db.stat().st_size
    log.info(report.summary())
    return report


def _check_span(source: HouseholdFile | SeriesFile, guards: IngestGuards) -> None:
    """A household file must span at least ``min_span_hours`` (a stub or a cut-off file does not)."""
    if not isinstance(source, HouseholdFile):
        return
    hours = source.wide["utc_hour"]
    span = (hours.max() - hours.min()).total_seconds() / 3600 + 1 if hours.len() else 0
    if span < guards.min_span_hours:
        raise DataError(f"{source.path}: spans {span:.0f} hour(s), less than data.ingest.min_span_hours="
                        f"{guards.min_span_hours}; give the whole file (a cut-off download?)")


def _check_drop(con: duckdb.DuckDBPyConnection, source: HouseholdFile, readings: pl.DataFrame,
                guards: IngestGuards, force: bool) -> None:
    """Refuse to replace a building's readings by far fewer (e.g. a truncated download) unless ``force``."""
    new = readings.group_by("building").len()
    for building, count in new.iter_rows():
        old = con.execute("SELECT count(*) FROM readings WHERE building = ?", [building]).fetchone()[0]
        if old and count < (1 - guards.max_drop_share) * old and not force:
            raise DataError(f"{source.path}: would replace {building}'s {old:,} readings by {count:,} "
                            f"({(count - old) / old:+.0%}), a larger drop than data.ingest.max_drop_share="
                            f"{guards.max_drop_share:g}; if that is intended, ingest again with --force")


def _refuse_mixed_releases(sources: list[HouseholdFile | SeriesFile]) -> None:
    seen: dict[str, Path] = {}
    for source in sources:
        if not isinstance(source, HouseholdFile):
            continue
        for building in {b for b, _ in source.meters.values()}:
            if building in seen:
                raise DataError(
                    f"{source.path}: building {building} is also in {seen[building]}; "
                    "ingest one file (one OPSD release) per building"
                )
            seen[building] = source.path


def _write_household(con: duckdb.DuckDBPyConnection, source: HouseholdFile, readings: pl.DataFrame) -> list[str]:
    buildings = sorted({b for b, _ in source.meters.values()})
    for column in source.dropped_duplicates:
        log.info("%s: %s duplicates another column and was skipped", source.path.name, column)
    con.execute("DELETE FROM readings WHERE building IN (SELECT unnest(?))", [buildings])
    con.execute("DELETE FROM devices WHERE building IN (SELECT unnest(?))", [buildings])
    con.execute("DELETE FROM buildings WHERE building IN (SELECT unnest(?))", [buildings])
    insert(con, "readings", readings.drop("flex_model"))
    new_devices = readings.group_by("building", "device", "flex_model").agg(
        first_utc=pl.col("utc_hour").min(),
        last_utc=pl.col("utc_hour").max(),
        hours=pl.len(),
        valid_hours=pl.col("valid").sum(),
    )
    new_devices = new_devices.with_columns(unit=pl.lit("kWh"))
    insert(con, "devices", new_devices, "building, device, flex_model, unit, first_utc, last_utc, hours, valid_hours")
    spans = new_devices.group_by("building").agg(first_utc=pl.col("first_utc").min(), last_utc=pl.col("last_utc").max())
    spans = spans.with_columns(
        opsd_prefix=pl.lit("DE_KN_") + pl.col("building"), layout=pl.lit(source.layout), source_sha256=pl.lit(source.sha256)
    )
    insert(con, "buildings", spans, "building, opsd_prefix, layout, source_sha256, first_utc, last_utc")
    return buildings


def _write_prices(con: duckdb.DuckDBPyConnection, source: SeriesFile, data_cfg: DictConfig) -> int:
    zone = data_cfg.price_zone
    split = pl.lit(zone.split_utc).str.to_datetime("%Y-%m-%dT%H:%M:%S")
    frame = with_local_date(source.frame, data_cfg.timezone).with_columns(
        zone=pl.when(pl.col("utc_hour") < split).then(pl.lit(zone.before)).otherwise(pl.lit(zone.after))
    )
    insert(con, "prices", frame, "utc_hour, local_date, price_eur_mwh, zone",
           replace_where="utc_hour IN (SELECT utc_hour FROM new)")
    return frame.height


#: Weather file column suffix -> weather table column.
WEATHER_COLUMNS = {"_temperature": "temperature_c", "_radiation_direct_horizontal": "direct_wm2",
                   "_radiation_diffuse_horizontal": "diffuse_wm2"}


def _write_weather(con: duckdb.DuckDBPyConnection, source: SeriesFile, timezone: str) -> int:
    """Upsert by (utc_hour, region) the quantities the file has; the others keep their stored values
    (so the temperature-only file ingested after the one with irradiance keeps the irradiance)."""
    long = source.frame.unpivot(index="utc_hour", variable_name="column", value_name="value").filter(
        pl.col("value").is_not_null())
    suffix = pl.col("column").str.extract(f"({'|'.join(WEATHER_COLUMNS)})$")
    long = long.with_columns(region=pl.col("column").str.replace(f"({'|'.join(WEATHER_COLUMNS)})$", ""),
                             quantity=suffix.replace_strict(WEATHER_COLUMNS))
    frame = long.pivot(on="quantity", index=["utc_hour", "region"], values="value")
    present = [c for c in WEATHER_COLUMNS.values() if c in frame.columns]
    frame = with_local_date(frame, timezone)
    con.register("new", frame.select("utc_hour", "local_date", "region", *present).to_arrow())
    try:
        updates = ", ".join(f"{c} = excluded.{c}" for c in present)
        con.execute(f"INSERT INTO weather (utc_hour, local_date, region, {', '.join(present)}) SELECT * FROM new "
                    f"ON CONFLICT (utc_hour, region) DO UPDATE SET {updates}")
    finally:
        con.unregister("new")
    return frame.height


def _write_source(con: duckdb.DuckDBPyConnection, source: HouseholdFile | SeriesFile) -> None:
    kind = "household" if isinstance(source, HouseholdFile) else source.kind
    layout = source.layout if isinstance(source, HouseholdFile) else kind
    rows = source.wide.height if isinstance(source, HouseholdFile) else source.frame.height
    con.execute("DELETE FROM sources WHERE sha256 = ?", [source.sha256])
    con.execute(
        "INSERT INTO sources (path, sha256, kind, layout, rows) VALUES (?, ?, ?, ?, ?)",
        [str(source.path), source.sha256, kind, layout, rows],
    )


def ensure_database(data_cfg: DictConfig) -> Path:
    """The database path; on the first run, ingest the shipped data into it."""
    db = Path(data_cfg.db)
    if not db.is_file():
        log.info("no database at %s: ingesting the shipped data (first run)", db)
        report = ingest(shipped_paths(data_cfg), data_cfg, db=db, only_if_missing=True)
        if report is not None:  # None: another process ingested it while this one waited
            print(report.summary())
    return db
