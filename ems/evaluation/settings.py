"""What ``python -m ems evaluate`` runs (``conf/evaluation/full.yaml``, ``quick.yaml``): a pydantic record,
so that an unknown or mistyped key is one line naming it."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    """A period of local days (Europe/Berlin): first day and number of days."""

    start: date
    n_days: int = Field(ge=1)


class Variant(_Strict):
    """A named configuration: its label in the report and the config overrides that make it."""

    label: str
    overrides: list[str]


class Sensitivity(_Strict):
    """Seed appendix C.3 on one building over ``window``."""

    building: str
    window: Window
    battery_kwh: list[float] = Field(min_length=1)      # battery capacities (kWh), centralized mode
    w_prob: list[float] = Field(min_length=1)           # preference weights (EUR per start at P = 0), phases mode
    price_forecast: list[str] = Field(min_length=1)     # horizon.price_forecast of the 36 h receding horizon
    forecasts: list[str] = Field(min_length=1)          # load/PV forecast options (perfect, ml, naive)


class Convergence(_Strict):
    """Seed 4.3.8: days until JS(step) stays below ``threshold`` (nats) for ``hold_days`` observed days."""

    threshold: float = Field(gt=0)
    hold_days: int = Field(ge=1)


class Performance(_Strict):
    """Seed 4.3.9: model size, build and solve time and memory of one real day by building size."""

    building: str
    day: date
    devices: list[int] = Field(min_length=1)            # numbers of flexible devices (1-10)
    scenarios: int = Field(ge=2)                        # the robust (two-stage) case's scenarios
    repeats: int = Field(ge=1)                          # solves per case (the median is reported)


class EvaluationSettings(_Strict):
    """Every section's buildings, periods and grids (see conf/evaluation/full.yaml for each knob)."""

    name: str
    buildings: list[str] = Field(min_length=1)
    year: Window
    methods: Window
    forecast: str
    scenarios: dict[str, Variant] = Field(min_length=1)
    compared: dict[str, Variant] = Field(min_length=1)
    sensitivity: Sensitivity
    convergence: Convergence
    performance: Performance
    point_tolerance_pct: float = Field(ge=0)
    sections: list[str] = Field(min_length=1)
    n_jobs: int = Field(ge=1)
    track: bool


#: The report's sections, in order (``sections`` picks from these).
SECTIONS = ("savings", "methods", "pv", "prediction", "convergence", "adaptation", "performance", "sensitivity")


def check_sections(settings: EvaluationSettings, known_buildings: list[str]) -> None:
    """A ValueError naming an unknown section or building."""
    named = [("evaluation.buildings", b) for b in settings.buildings] + [
        ("evaluation.sensitivity.building", settings.sensitivity.building),
        ("evaluation.performance.building", settings.performance.building)]
    for key, building in named:
        if building not in known_buildings:
            raise ValueError(f"{key}: {building!r} has no building config (buildings: {', '.join(known_buildings)})")
    for name in settings.sections:
        if name not in SECTIONS:
            raise ValueError(f"evaluation.sections: {name!r} is not a section (sections: {', '.join(SECTIONS)})")
