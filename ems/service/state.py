"""Per-building service state: config, typical profiles and the learned PMFs (persisted).

A building id is checked against the configured buildings (``conf/building``)
that have readings before anything else; ``DE_KN_residential3`` and
``residential3`` are the same building, any other spelling is a 404 naming
the known ones. Each canonical building has one agent, one lock and one state
file (``<output_dir>/service/<id>_pmf.duckdb``). A learn takes the state file's
lock (``.lock`` beside it, so two service processes on the same folder take
turns), re-reads the file if another process wrote it since, applies the
update and saves atomically; if the save fails the update is undone. A state
file that cannot be read is reported by ``/health`` and answered with 503 for
that building until it is repaired (it is never reset).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import filelock

from omegaconf import DictConfig

from ems.agents.fleet import agents
from ems.config import config_dir, instantiate, load_config
from ems.data.atomic import clean_temps, file_lock
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


#: OPSD's prefix of a building's meter columns; a building id may carry it.
OPSD_PREFIX = "DE_KN_"
#: ``<output_dir>/service/<building><STATE_SUFFIX>``: a building's learned PMFs.
STATE_SUFFIX = "_pmf.duckdb"
#: Seconds a learn waits for another process holding the building's state file lock.
STATE_LOCK_TIMEOUT_S = 30.0


class UnknownBuilding(LookupError):
    """No config or no readings for the building."""


class StateUnavailable(DataError):
    """The building's saved PMF state cannot be read or written (the service answers 503)."""


@dataclass
class BuildingService:
    """One canonical building: its config, typical profiles and learned PMFs (``agent``; None while
    its state file cannot be read, ``state_error`` says why)."""

    building: object
    profile: BuildingProfile
    agent: ProbabilityModelAgent | None
    state_path: Path
    prior: object = None
    state_error: str | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)  # re-entered by learn -> require_agent
    _seen: int | None = None  # mtime_ns of the state file this process last read or wrote

    def __post_init__(self) -> None:
        self.file_lock = file_lock(self.state_path, STATE_LOCK_TIMEOUT_S)

    def _mtime(self) -> int | None:
        try:
            return self.state_path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def load_state(self) -> None:
        """(Re)read the state file into a fresh agent; a corrupt file sets ``state_error``."""
        agent = ProbabilityModelAgent(self.prior, LearningSettings())
        mtime = self._mtime()
        try:
            state.load(agent, self.state_path)
        except state.StateError as exc:
            self.agent, self.state_error, self._seen = None, str(exc), mtime
            log.error("%s", exc)
            return
        self.agent, self.state_error, self._seen = agent, None, mtime

    def require_agent(self) -> ProbabilityModelAgent:
        """The learned PMFs; StateUnavailable when the state file is corrupt (re-read once it changes)."""
        if self.state_error is not None and self._mtime() != self._seen:
            with self.lock:
                self.load_state()
        if self.agent is None:
            raise StateUnavailable(f"building {self.building.id}: {self.state_error}")
        return self.agent

    def learn(self, observe) -> object:
        """``observe(agent)`` applied and persisted as one step (under the building's thread and file
        locks, after re-reading a state file another process changed); undone if the save fails."""
        with self.lock:
            try:
                with self.file_lock:
                    if self._mtime() != self._seen:
                        self.load_state()
                    agent = self.require_agent()
                    before = agent.snapshot()
                    outcome = observe(agent)
                    try:
                        state.save(agent, self.state_path)
                    except Exception as exc:  # noqa: BLE001 - disk full, permissions: nothing learned
                        agent.restore(before)
                        raise StateUnavailable(f"building {self.building.id}: the PMF state could not be saved to "
                                               f"{self.state_path} ({type(exc).__name__}: {exc}); nothing was "
                                               f"learned, retry later") from None
                    self._seen = self._mtime()
            except filelock.Timeout:
                raise StateUnavailable(f"building {self.building.id}: {self.state_path} is locked by another "
                                       f"process for over {STATE_LOCK_TIMEOUT_S:g} s; retry later") from None
        return outcome


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
        if self.dir.is_dir():
            clean_temps(self.dir)
        self._buildings: dict[str, BuildingService] = {}
        self._known: list[str] = []
        self._checked: dict[tuple[Path, int], str | None] = {}  # (state file, mtime_ns) -> problem
        self._lock = threading.Lock()
        self.warmed = False
        if cfg.get("heating") is not None:  # refused, not silently ignored
            raise ValueError("heating: the service plans a heat pump as its typical daily quota (a typical day has "
                             "no metered comfort path); leave heating unset, or send a thermal device in a full "
                             "/optimize request")
        mode = instantiate(cfg.mode, where="mode")
        self.settings = ExpansionSettings(
            feed_in_eur_kwh=instantiate(cfg.tariff, where="tariff").feed_in_eur_kwh,
            theta=float(getattr(mode, "theta", cfg.theta)), w_prob=float(getattr(mode, "w_prob", 0.0)),
            batteries=agents(cfg, "batteries", instantiate(cfg.get("battery"), where="battery")),
            evs=agents(cfg, "evs", instantiate(cfg.get("ev"), where="ev")),
            timezone=cfg.data.timezone, solver=cfg.solver.name)

    def known(self) -> list[str]:
        """The buildings the service can answer for: a building config and readings in the store."""
        configured = {p.stem for p in (config_dir() / "building").glob("*.yaml")}
        with Store(self.cfg.data.db, self.cfg.data.timezone) as store:
            self._known = [b for b in store.buildings() if b in configured]
        return list(self._known)

    def canonical(self, raw: object) -> str:
        """``DE_KN_residential3`` or ``residential3`` -> ``residential3``; UnknownBuilding naming the
        known ids for anything else (no trimming, quoting or path tricks)."""
        name = raw.removeprefix(OPSD_PREFIX) if isinstance(raw, str) else None
        known = self._known if name in self._known else self.known()  # re-read the store only on a miss
        if name not in known:
            raise UnknownBuilding(f"building_id={raw!r}: no such building (known: {', '.join(known)})")
        return name

    def corrupt(self) -> dict[str, str]:
        """Buildings whose state file cannot be read: id -> what is wrong (loaded ones as they were
        loaded; the state files of the others are read once per change)."""
        found = {b: s.state_error for b, s in list(self._buildings.items()) if s.state_error is not None}
        for path in sorted(self.dir.glob(f"*{STATE_SUFFIX}")) if self.dir.is_dir() else []:
            building = path.name.removesuffix(STATE_SUFFIX)
            if building in self._buildings:
                continue
            key = (path, path.stat().st_mtime_ns)
            if key not in self._checked:
                self._checked[key] = state.check(path)
            if self._checked[key]:
                found[building] = self._checked[key]
        return found

    def warm(self) -> list[str]:
        """Load every building of the store that has a building config; the ids loaded.
        ``warmed`` is true once done (``/health`` reports it)."""
        loaded = []
        for building_id in self.known():
            try:
                service = self.get(building_id)
            except UnknownBuilding as exc:
                log.info("not warmed: %s", exc)
                continue
            if service.state_error is None:
                loaded.append(building_id)
        self.warmed = True
        return loaded

    def get(self, building_id: object) -> BuildingService:
        """The service state of a canonical building id (see :meth:`canonical`)."""
        service = self._buildings.get(building_id) if isinstance(building_id, str) else None
        if service is not None:  # loaded: no lock, so a request never waits for another building's load
            return service
        building_id = self.canonical(building_id)
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
        service = BuildingService(building, profile, None, self.dir / f"{building.id}{STATE_SUFFIX}",
                                  prior=instantiate(self.cfg.prior))
        service.load_state()
        return service
