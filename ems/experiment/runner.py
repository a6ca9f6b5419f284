"""The generic experiment runner behind ``run.py``.

It instantiates whatever the config groups name (``_target_``) and drives the
day loop; it knows no agent class by name.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from ems.config import instantiate
from ems.data.errors import DataError
from ems.data.ingest import ingest, shipped_paths
from ems.data.store import Store
from ems.experiment.days import load_days, select_days
from ems.experiment.settlement import energy_cost_eur

log = logging.getLogger(__name__)

#: Config groups whose node is instantiated for an experiment.
COMPONENTS = ("building", "mode", "tariff", "battery", "ev", "prior", "solver")


@dataclass
class ExperimentResult:
    """Totals of one experiment run; ``energy_cost_eur`` is the objective."""

    building: str
    mode: str
    days: int
    skipped: dict[str, int]
    energy_cost_eur: float
    grid_kwh: dict[str, float]
    energy_kwh: dict[str, float]
    daily: pl.DataFrame = field(repr=False)
    seconds: float = 0.0

    def table(self) -> str:
        skipped = sum(self.skipped.values())
        row = "  {:<26}{:>12.2f} {}".format
        lines = [
            f"building {self.building} | mode {self.mode} | {self.days} valid day(s), {skipped} skipped",
            *(f"  skipped {n}: {reason}" for reason, n in self.skipped.items()),
            row("energy cost", self.energy_cost_eur, "EUR"),
            row("grid import", self.grid_kwh["import"], "kWh"),
            row("grid export", self.grid_kwh["export"], "kWh"),
            *(row(f"metered {device}", kwh, "kWh") for device, kwh in self.energy_kwh.items()),
            row("run time", self.seconds, "s"),
        ]
        return "\n".join(lines)


def ensure_database(data_cfg: DictConfig) -> Path:
    """The database path; on the first run, ingest the shipped data into it."""
    db = Path(data_cfg.db)
    if not db.is_file():
        log.info("no database at %s: ingesting the shipped data (first run)", db)
        print(ingest(shipped_paths(data_cfg), data_cfg, db=db).summary())
    return db


def run_experiment(cfg: DictConfig, output_dir: str | Path | None = None) -> float:
    """Run the configured experiment, print its summary, return the energy cost (EUR)."""
    started = time.perf_counter()
    parts: dict[str, Any] = {name: instantiate(cfg.get(name)) for name in COMPONENTS}
    building, mode, tariff = parts["building"], parts["mode"], parts["tariff"]
    with Store(ensure_database(cfg.data), cfg.data.timezone) as store:
        store.require_building(building.id, building.source_hint)
        days = select_days(store, building, cfg.period.start, cfg.period.n_days)
        if not days:
            raise DataError(f"period.start={cfg.period.start}: building {building.id} has no readings in that period")
        valid, skipped = load_days(store, building, days)
    rows = []
    for day in tqdm(valid, desc=f"{building.id} {mode.name}", unit="day"):
        schedule = mode.schedule_day(day)
        cost = energy_cost_eur(schedule.import_kwh, schedule.export_kwh,
                               tariff.import_price(day.hours), tariff.export_price(day.hours))
        rows.append({"local_date": day.day, "hours": day.n_steps, "energy_cost_eur": cost,
                     "import_kwh": float(schedule.import_kwh.sum()), "export_kwh": float(schedule.export_kwh.sum()),
                     **{f"metered_{d}_kwh": float(e.sum()) for d, e in day.energy_kwh.items()}})
    daily = pl.DataFrame(rows)
    result = ExperimentResult(
        building=building.id, mode=mode.name, days=len(valid), skipped=dict(Counter(skipped.values())),
        energy_cost_eur=float(daily["energy_cost_eur"].sum()) if rows else 0.0,
        grid_kwh={k: float(daily[f"{k}_kwh"].sum()) if rows else 0.0 for k in ("import", "export")},
        energy_kwh={c[len("metered_"):-len("_kwh")]: float(daily[c].sum()) for c in daily.columns if c.startswith("metered_")},
        daily=daily, seconds=time.perf_counter() - started,
    )
    print(result.table())
    if output_dir is not None:
        _write_outputs(Path(output_dir), cfg, result, skipped)
    return result.energy_cost_eur


def _write_outputs(out: Path, cfg: DictConfig, result: ExperimentResult, skipped: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    result.daily.write_csv(out / "daily.csv")
    summary = {k: v for k, v in result.__dict__.items() if k != "daily"}
    summary["skipped_days"] = {str(d): reason for d, reason in skipped.items()}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    log.info("outputs written to %s", out)
