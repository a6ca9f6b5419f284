"""Recognise and parse the CSV layouts ems ingests.

Household meter files (OPSD "Household Data", CoSSMic, Konstanz), all hourly
cumulative kWh readings per ``DE_KN_<building>_<device>`` column:

* ``opsd_full``: the full ``household_data_60min_singleindex.csv`` of the
  2020-04-15 release: ``utc_timestamp``, ``cet_cest_timestamp``, the meter
  columns of all 11 buildings and an ``interpolated`` marker column.
* ``opsd_legacy``: releases before 2017-11, whose marker column is called
  ``interpolated_values`` (entries separated by `` | ``).
* ``opsd_extract``: per-building extracts: ``utc_timestamp`` plus that
  building's meter columns only (no local time, no marker).

Plus the price file (``utc_timestamp``, ``price_eur_mwh``) and the weather file
(``utc_timestamp``, ``<region>_temperature`` in deg C). Timestamps are UTC.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ems.data.errors import DataError

METER_COLUMN = re.compile(r"^DE_KN_((?:industrial|public|residential)\d+)_(\w+?)(?:\.(\d+))?$")
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MARKER_COLUMNS = {"interpolated": "opsd_full", "interpolated_values": "opsd_legacy"}


@dataclass
class HouseholdFile:
    """Meter readings of one file, wide: ``utc_hour`` then one Float64 column per meter."""

    path: Path
    layout: str
    sha256: str
    wide: pl.DataFrame
    meters: dict[str, tuple[str, str]]  # column -> (building, device)
    interpolated: pl.DataFrame | None = None  # utc_hour, column (one row per marked cell)
    dropped_duplicates: list[str] = field(default_factory=list)


@dataclass
class SeriesFile:
    """An hourly UTC series file: prices (EUR/MWh) or temperature (deg C)."""

    path: Path
    kind: str  # "prices" | "weather"
    sha256: str
    frame: pl.DataFrame


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_any(path: Path) -> HouseholdFile | SeriesFile:
    """Parse ``path`` in whichever supported layout its header shows."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; give the path of an OPSD household_data, price or weather CSV")
    raw = _read_strings(path)
    columns = raw.columns
    if "utc_timestamp" not in columns:
        raise DataError(
            f"{path}: no utc_timestamp column; expected an OPSD household_data CSV, "
            "a price file (utc_timestamp, price_eur_mwh) or a weather file (utc_timestamp, <region>_temperature)"
        )
    sha = file_sha256(path)
    if any(METER_COLUMN.match(c) for c in columns):
        return _household(path, sha, raw)
    if "price_eur_mwh" in columns:
        frame = _hourly(path, raw).select("utc_hour", _numeric(path, raw, "price_eur_mwh"))
        return SeriesFile(path, "prices", sha, frame)
    weather = [c for c in columns if c.endswith(WEATHER_SUFFIXES)]
    if any(c.endswith("_temperature") for c in weather):
        frame = _hourly(path, raw).select("utc_hour", *[_numeric(path, raw, c) for c in weather])
        return SeriesFile(path, "weather", sha, frame)
    raise DataError(f"{path}: header {columns[:4]}... matches no known layout (DE_KN_* meters, price_eur_mwh, *_temperature)")


#: Weather columns ``<region><suffix>``: air temperature (deg C) and, in the OPSD 2020-09-16 file,
#: direct and diffuse horizontal irradiance (W/m2, hourly means).
WEATHER_SUFFIXES = ("_temperature", "_radiation_direct_horizontal", "_radiation_diffuse_horizontal")


def _read_strings(path: Path) -> pl.DataFrame:
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        _check_complete(path, data)
        raw = pl.read_csv(io.BytesIO(data), infer_schema_length=0, null_values=[""], raise_if_empty=True)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError, EOFError, zlib.error) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: not a readable CSV ({first})") from exc
    if raw.height == 0:
        raise DataError(f"{path}: a header and no data rows; give a file with readings")
    return raw


def _check_complete(path: Path, data: bytes) -> None:
    """A file cut short (a broken download) ends mid-line: refuse it. A last line without a newline
    is accepted when it has every field of the header and the last is not empty (the OPSD weather
    file ends so); a cut inside the last number cannot be told from a complete file."""
    if not data or data.endswith(b"\n"):
        return
    header = data.split(b"\n", 1)[0]
    last = data.rsplit(b"\n", 1)[-1].rstrip(b"\r")
    fields, expected = last.split(b","), header.count(b",") + 1
    if b"\n" in data and (len(fields) != expected or not fields[-1].strip()):
        raise DataError(f"{path}: the last line is cut off ({len(fields)} of {expected} fields and no final "
                        f"newline), as a truncated download is; fetch the file again")


def _hourly(path: Path, raw: pl.DataFrame) -> pl.DataFrame:
    """Parse ``utc_timestamp`` into ``utc_hour`` and check it is unique, sorted and hourly."""
    text = raw["utc_timestamp"].str.strip_chars()
    parsed = text.str.to_datetime(UTC_FORMAT, strict=False)
    bad = parsed.is_null() & text.is_not_null() | text.is_null()
    if bad.any():
        row = int(bad.arg_max())
        raise DataError(
            f"{path}: utc_timestamp {text[row]!r} in data row {row + 1} is not of the form 2016-01-01T00:00:00Z"
        )
    frame = raw.with_columns(utc_hour=parsed).drop("utc_timestamp")
    seconds = frame["utc_hour"].diff().dt.total_seconds()
    not_after = seconds <= 0
    if not_after.any():
        row = int(not_after.arg_max())
        raise DataError(
            f"{path}: utc_timestamp {text[row]!r} (data row {row + 1}) is not after the row before; "
            "sort the file and remove duplicate hours"
        )
    if (seconds % 3600 != 0).any() or (frame["utc_hour"].dt.minute() != 0).any():
        raise DataError(f"{path}: timestamps are not on whole hours; ems ingests the 60-min OPSD files (*_60min_singleindex.csv)")
    return frame


def _numeric(path: Path, raw: pl.DataFrame, column: str) -> pl.Series:
    text = raw[column].str.strip_chars()
    values = text.cast(pl.Float64, strict=False)
    bad = values.is_null() & text.is_not_null() & (text != "")
    if bad.any():
        row = int(bad.arg_max())
        raise DataError(f"{path}: column {column} row {row + 1} holds {text[row]!r}, not a number (kWh, EUR/MWh or deg C)")
    if values.is_nan().any() or values.is_infinite().any():
        row = int((values.is_nan() | values.is_infinite()).arg_max())
        raise DataError(f"{path}: column {column} row {row + 1} is not finite ({text[row]!r})")
    return values.alias(column)


def _household(path: Path, sha: str, raw: pl.DataFrame) -> HouseholdFile:
    frame = _hourly(path, raw)
    marker = next((c for c in MARKER_COLUMNS if c in raw.columns), None)
    layout = MARKER_COLUMNS[marker] if marker else "opsd_extract"
    meters: dict[str, tuple[str, str]] = {}
    duplicates: list[str] = []
    values = []
    for column in raw.columns:
        match = METER_COLUMN.match(column)
        if not match:
            continue
        building, device, copy = match.groups()
        series = _numeric(path, raw, column)
        if copy is not None:
            original = column.rsplit(".", 1)[0]
            if original not in raw.columns or not series.equals(_numeric(path, raw, original)):
                raise DataError(f"{path}: column {column} is a second copy of {original} with different values; remove one")
            duplicates.append(column)
            continue
        meters[column] = (building, device)
        values.append(series)
    wide = pl.DataFrame([frame["utc_hour"], *values])
    interpolated = _markers(frame, marker) if marker else None
    return HouseholdFile(path, layout, sha, wide, meters, interpolated, duplicates)


def _markers(frame: pl.DataFrame, marker: str) -> pl.DataFrame:
    """One row (utc_hour, column) per cell OPSD marked as interpolated."""
    return (
        frame.select("utc_hour", pl.col(marker).str.replace_all(r"\s*[|;,]\s*", "|").str.split("|").alias("column"))
        .explode("column")
        .with_columns(pl.col("column").str.strip_chars())
        .filter(pl.col("column").is_not_null() & (pl.col("column") != ""))
    )
