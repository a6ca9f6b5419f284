"""EVAgent: an electric vehicle charged at home in plug-in sessions seen in its meter.

Sessions come from the EV meter's real charging runs (stretches of hours
above the run threshold; :func:`sessions_of`). An unmanaged wallbox starts
charging when the car is plugged in, so a run's first hour is taken as the
arrival. The departure is known only as "not before the run's last hour",
so:

* a run that starts at or after ``arrival_hour`` (the evening), or is still
  charging in the day's last hour, is an **overnight** session: the car is
  taken as plugged in until ``departure_hour`` the next morning (or the end of
  the charging that continues after midnight, if later). It is one session
  across the day boundary (:meth:`EVAgent.link`): the next day's charging
  before the departure belongs to it;
* a run that starts before ``departure_hour`` leaves at ``departure_hour``
  (or its last hour, if later);
* any other run (daytime) is plugged in only while the meter saw it charge.

Runs whose plug-in times overlap or touch are one session (a car cannot leave
and arrive in the same hour). What the flexible plan may
change is when the session's energy (grid side, kWh, as metered) is charged
within it, at most ``max_charge_kw``.

A plan whose horizon ends before an overnight session does (``horizon=day``
plans to midnight) must leave the car with at least what the rest of the
session can still charge at full power short of the target (the least that
keeps tomorrow's plan feasible); the SOC at midnight carries into the next
day's plan (:meth:`EVAgent.end_day`), where the session continues from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np

from ems.checks import require_efficiency, require_fraction, require_non_negative
from ems.learning.runs import detect_runs
from ems.optim.kinds.storage import EVSession, EVSpec
from ems.planning.needs import SessionNeed

if TYPE_CHECKING:
    from ems.optim.result import DayResult
    from ems.planning.needs import DayNeeds


@dataclass(frozen=True)
class Link:
    """An overnight session joined with the next day: it lasts ``steps`` steps into that day and
    takes over its first ``absorbed`` sessions (``energy_kwh`` and ``peak_kw`` of their charging)."""

    steps: int
    absorbed: int
    energy_kwh: float
    peak_kw: float


@dataclass(frozen=True)
class Carry:
    """How one car's day joins its neighbours: the overnight session continuing into the next day
    (``after``), the one coming from the day before (``before``) and the SOC the committed day before
    left that one at (``start_soc_kwh``; None: what the metered charging left). See :meth:`EVAgent.spec`."""

    after: Link | None = None
    before: Link | None = None
    start_soc_kwh: float | None = None


@dataclass
class EVAgent:
    """EV parameters: battery kWh, charger kW (grid side), charge efficiency, the target SOC a
    session leaves with (``soc_target_frac`` of the capacity; the seed's rule: full by departure),
    and the local hours that decide a session's departure (see the module docstring). V2G is off
    unless ``v2g`` is true.

    State: the SOC at midnight of an overnight session the last committed day left running
    (:meth:`end_day`), which the next day's plan starts from.
    """

    capacity_kwh: float
    max_charge_kw: float
    charge_efficiency: float
    soc_target_frac: float
    arrival_hour: int
    departure_hour: int
    v2g: bool = False
    #: Names the car in the request, the result and the KPIs (several EVs: each its own name).
    name: str = "ev"
    #: The building's EV meter whose charging runs are this car's sessions (null: every EV meter of the
    #: building, summed; several EVs: each names its own).
    meter: str | None = None
    _carried: tuple[date, float] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        require_non_negative(self, "capacity_kwh", "max_charge_kw")
        require_efficiency(self, "charge_efficiency")
        require_fraction(self, "soc_target_frac")
        for name in ("arrival_hour", "departure_hour"):
            if not 0 <= getattr(self, name) <= 23:
                raise ValueError(f"ev.{name}={getattr(self, name)!r} must be a local hour 0..23")

    @property
    def soc_target_kwh(self) -> float:
        return self.soc_target_frac * self.capacity_kwh

    def sessions_of(self, local_hours: np.ndarray, ev_kwh: np.ndarray, threshold_kwh: float) -> list[SessionNeed]:
        """The day's sessions from its metered EV charging (kWh per hour; see the module docstring)."""
        n = len(local_hours)
        out: list[SessionNeed] = []
        leave = self._departure(local_hours)
        for start, profile in detect_runs(ev_kwh, threshold_kwh):
            end = start + len(profile)
            overnight = bool(local_hours[start] >= self.arrival_hour or end == n)
            departure = n if overnight else max(end, leave) if local_hours[start] < self.departure_hour else end
            energy, peak = float(profile.sum()), float(profile.max())
            if out and start <= out[-1].departure_step:  # plugged in already (or back at once): the same session
                last = out[-1]
                out[-1] = SessionNeed(last.arrival_step, max(last.departure_step, departure),
                                      last.energy_kwh + energy, max(last.peak_kw, peak), last.overnight or overnight)
            else:
                out.append(SessionNeed(start, departure, energy, peak, overnight))
        return out

    def _departure(self, local_hours: np.ndarray) -> int:
        """The first step at or after ``departure_hour`` (the day's length if none is)."""
        later = np.flatnonzero(np.asarray(local_hours) >= self.departure_hour)
        return int(later[0]) if len(later) else len(local_hours)

    def link(self, today: "DayNeeds", tomorrow: "DayNeeds | None") -> Link | None:
        """How today's overnight session continues into ``tomorrow`` (the next local day's needs;
        None: not replayed); None when today has no overnight session or there is no tomorrow."""
        mine = today.ev_sessions.get(self.name, [])
        if tomorrow is None or not mine or not mine[-1].overnight:
            return None
        hours = tomorrow.local_hours
        steps = self._departure(hours)
        absorbed, energy, peak = 0, 0.0, 0.0
        for s in tomorrow.ev_sessions.get(self.name, []):
            if s.arrival_step > steps:  # a run from the departure on is still the same plug-in
                break
            absorbed, energy, peak = absorbed + 1, energy + s.energy_kwh, max(peak, s.peak_kw)
            steps = max(steps, s.departure_step) if not s.overnight else len(hours)
        return Link(steps, absorbed, energy, peak)

    def spec(self, needs: "DayNeeds", steps: int | None = None, after: Link | None = None,
             before: Link | None = None, start_soc_kwh: float | None = None,
             continuation: bool = True) -> EVSpec | None:
        """The EV part of a plan of ``needs``' day over ``steps`` steps (default: the day).

        ``after``: today's overnight session continues into the next day (its energy then includes
        the next day's part; beyond ``steps`` it is clipped to the least SOC that keeps it feasible).
        ``before``: the morning belongs to yesterday's overnight session, which continues from
        ``start_soc_kwh`` (the SOC the committed yesterday left; None: what the metered charging
        left, the baseline's accounting) until its departure; ``continuation=False`` leaves that
        part out (a whole-period plan has it in yesterday's session). None: no session.
        """
        n = needs.n_steps
        steps = n if steps is None else steps
        target, eta = self.soc_target_kwh, self.charge_efficiency
        sessions: list[SessionNeed] = list(needs.ev_sessions.get(self.name, []))
        if before is not None:
            sessions = sessions[before.absorbed:]
            if continuation:
                soc = target - eta * before.energy_kwh if start_soc_kwh is None else start_soc_kwh
                sessions.insert(0, SessionNeed(0, before.steps, (target - soc) / eta, before.peak_kw))
        if after is not None and sessions and sessions[-1].overnight:
            last = sessions[-1]
            sessions[-1] = SessionNeed(last.arrival_step, n + after.steps, last.energy_kwh + after.energy_kwh,
                                       max(last.peak_kw, after.peak_kw), True)
        elif sessions and sessions[-1].overnight:  # no next day: the session ends at midnight
            sessions[-1] = replace(sessions[-1], departure_step=n)
        charger = max([self.max_charge_kw] + [s.peak_kw for s in sessions])
        # what the rest of a clipped session can charge: the charger of the next day's plan (see link)
        rest_kw = max(self.max_charge_kw, after.peak_kw if after is not None else 0.0)
        out = []
        for s in sessions:
            if s.arrival_step >= steps or s.departure_step <= s.arrival_step:
                continue
            gain = max(s.energy_kwh, 0.0) * eta
            if gain > target + 1e-9:
                raise ValueError(f"{self.name}: {s.energy_kwh:g} kWh charged in the session from step {s.arrival_step} "
                                 f"exceed what the car can take ({target:g} kWh at soc_target_frac="
                                 f"{self.soc_target_frac}); raise the capacity_kwh of EV {self.name!r} "
                                 f"(ev.capacity_kwh, or its entry in evs)")
            init, leave, need = target - gain, s.departure_step, target
            if leave > steps:  # the plan ends first: keep what the rest of the session can still charge
                leave = steps
                need = max(init, target - eta * rest_kw * (s.departure_step - steps))
            out.append(EVSession(soc_init_kwh=max(init, 0.0), soc_target_kwh=min(need, target),
                                 arrival_step=s.arrival_step, deadline_step=leave))
        if not out:
            return None
        return EVSpec(name=self.name, capacity_kwh=self.capacity_kwh, max_charge_kw=charger, sessions=out,
                      charge_efficiency=eta, v2g=self.v2g,
                      max_discharge_kw=charger if self.v2g else 0.0, discharge_efficiency=eta)

    def start_soc(self, day: date) -> float | None:
        """The SOC (kWh) at ``day``'s midnight of the overnight session the day before left running
        (None: that day was not committed, or its session did not run overnight)."""
        if self._carried is not None and self._carried[0] == day - timedelta(days=1):
            return self._carried[1]
        return None

    def end_day(self, day: date, plan: "DayResult", n: int, overnight: bool) -> None:
        """Carry the committed plan's SOC at midnight when ``day`` ends with an overnight session."""
        self._carried = None
        schedule = plan.storages.get(self.name)
        if overnight and schedule is not None and len(schedule.soc_kwh) > n:
            self._carried = (day, min(max(schedule.soc_kwh[n], 0.0), self.soc_target_kwh))

    def reset(self) -> None:
        """Forget the carried session (a replay starts with no car plugged in)."""
        self._carried = None
