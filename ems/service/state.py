"""Per-building service state: config, typical profiles and the learned PMFs (persisted)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from ems.config import instantiate, load_config
from ems.data.errors import DataError
from ems.data.store import Store
from ems.learning import state
from ems.learning.pmf import LearningSettings, ProbabilityModelAgent
from ems.service.expand import ExpansionSettings
from ems.service.profiles import BuildingProfile, build_profile

log = logging.getLogger(__name__)

#: What ``python -m ems serve`` composes unless its ``--set`` overrides choose otherwise.
SERVICE_DEFAULTS = ("mode=phases", "battery=home", "ev=home")


def service_overrides(overrides: list[str]) -> list[str]:
    """``SERVICE_DEFAULTS`` for the groups the user did not choose, then the user's overrides."""
    chosen = {o.split("=", 1)[0] for o in overrides}
    return [d for d in SERVICE_DEFAULTS if d.split("=", 1)[0] not in chosen] + list(overrides)


class UnknownBuilding(LookupError):
    """No config or no readings for the building."""


@dataclass
class BuildingService:
    building: object
    profile: BuildingProfile
    agent: ProbabilityModelAgent
    state_path: Path
    lock: threading.Lock = field(default_factory=threading.Lock)

    def save(self) -> None:
        state.save(self.agent, self.state_path)


class Services:
    """Lazily loads each building's service state; shared by all requests."""

    def __init__(self, cfg: DictConfig, overrides: list[str] | None = None):
        """``cfg`` composed from ``overrides`` (e.g. ``SERVICE_DEFAULTS`` + ``serve --set ...``); each
        building's config is composed by Hydra from the same overrides plus ``building=<id>``.

        The short form's preferences are the configured mode's ``theta`` and
        ``w_prob`` (no preference weight for a mode without one); its battery
        and EV are the configured ``battery`` / ``ev`` (none: the request's
        ``battery_enabled`` / ``ev_enabled`` are refused).
        """
        self.cfg, self.overrides = cfg, [o for o in (overrides or []) if not o.startswith("building=")]
        self.dir = Path(cfg.paths.output_dir) / "service"
        self._buildings: dict[str, BuildingService] = {}
        self._lock = threading.Lock()
        self.warmed = False
        mode = instantiate(cfg.mode, where="mode")
        self.settings = ExpansionSettings(
            feed_in_eur_kwh=instantiate(cfg.tariff, where="tariff").feed_in_eur_kwh,
            theta=float(getattr(mode, "theta", cfg.theta)), w_prob=float(getattr(mode, "w_prob", 0.0)),
            battery=instantiate(cfg.get("battery"), where="battery"), ev=instantiate(cfg.get("ev"), where="ev"),
            timezone=cfg.data.timezone, solver=cfg.solver.name)

    def known(self) -> list[str]:
        with Store(self.cfg.data.db, self.cfg.data.timezone) as store:
            return store.buildings()

    def warm(self) -> list[str]:
        """Load every building of the store that has a building config; the ids loaded.
        ``warmed`` is true once done (``/health`` reports it)."""
        loaded = []
        for building_id in self.known():
            try:
                self.get(building_id)
            except UnknownBuilding as exc:
                log.info("not warmed: %s", exc)
                continue
            loaded.append(building_id)
        self.warmed = True
        return loaded

    def get(self, building_id: str) -> BuildingService:
        service = self._buildings.get(building_id)
        if service is not None:  # loaded: no lock, so a request never waits for another building's load
            return service
        with self._lock:  # one load at a time: Hydra's compose is process-global
            if building_id not in self._buildings:
                self._buildings[building_id] = self._load(building_id)
            return self._buildings[building_id]

    def _load(self, building_id: str) -> BuildingService:
        try:
            building = instantiate(load_config([*self.overrides, f"building={building_id}"]).building)
        except Exception:  # noqa: BLE001 - Hydra reports a missing option in many ways
            raise UnknownBuilding(f"building {building_id!r}: no such building config (conf/building/)") from None
        with Store(self.cfg.data.db, self.cfg.data.timezone) as store:
            try:
                store.require_building(building.id, building.source_hint)
            except DataError as exc:
                raise UnknownBuilding(str(exc)) from None
            profile = build_profile(store, building)
        agent = ProbabilityModelAgent(instantiate(self.cfg.prior), LearningSettings())
        path = self.dir / f"{building.id}_pmf.duckdb"
        state.load(agent, path)
        return BuildingService(building, profile, agent, path)
