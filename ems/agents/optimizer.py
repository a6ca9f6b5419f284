"""GlobalOptimizer: the coordinator. It asks each agent for its part of the day request and solves it.

This is the one day-request builder: the replay (a metered day), the service
and the pyfunc model (a building's typical day) all hand it a
:class:`~ems.planning.needs.DayNeeds` and prices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ems.agents.battery import BatteryAgent
from ems.agents.ev import EVAgent, Link
from ems.agents.pv import PVAgent
from ems.optim.kinds.grid import Grid
from ems.optim.optimize import optimize_day
from ems.optim.request import DayRequest
from ems.optim.result import DayResult
from ems.optim.solver import SolverSpec
from ems.planning.needs import DayNeeds


@dataclass
class GlobalOptimizer:
    """Schedules all flexible devices, battery and EV of a building together (one MILP per day).

    ``battery`` / ``ev`` are the house's agents (None: not there); ``pv`` says
    whether PV may be curtailed; ``grid`` holds the connection limits (kW).
    """

    grid: Grid
    solver: SolverSpec = field(default_factory=SolverSpec)
    battery: BatteryAgent | None = None
    ev: EVAgent | None = None
    pv: PVAgent = field(default_factory=PVAgent)
    theta: float = 0.05

    def request(self, needs: DayNeeds, import_price_eur_kwh, export_price_eur_kwh, base_kw=None, pv_kw=None,
                with_battery: bool = True, ev_after: Link | None = None, ev_before: Link | None = None,
                ev_start_soc_kwh: float | None = None) -> DayRequest:
        """The priced day request: the needs' jobs, the agents' battery and EV parts, the grid.

        ``base_kw`` / ``pv_kw`` (kW per step) are what the plan assumes
        (a forecast); default the needs' own values. Prices in EUR/kWh.
        ``ev_after`` / ``ev_before``: the overnight EV sessions that continue
        into the next day / came from the day before, ``ev_start_soc_kwh`` the
        SOC the latter continues from (see :meth:`ems.agents.ev.EVAgent.spec`).
        """
        base = needs.base_kw if base_kw is None else base_kw
        pv = needs.pv_kw if pv_kw is None else pv_kw
        return DayRequest(
            step_hours=1.0, import_price_eur_kwh=np.asarray(import_price_eur_kwh, float).tolist(),
            export_price_eur_kwh=np.asarray(export_price_eur_kwh, float).tolist(),
            pv_kw=np.maximum(pv, 0.0).tolist(), base_load_kw=np.maximum(base, 0.0).tolist(), grid=self.grid,
            devices=[d.model_copy(deep=True) for d in needs.devices],
            battery=self.battery.spec() if self.battery is not None and with_battery else None,
            ev=self.ev.spec(needs, after=ev_after, before=ev_before, start_soc_kwh=ev_start_soc_kwh)
            if self.ev is not None else None,
            theta=self.theta, solver=self.solver, pv_curtailable=self.pv.curtailable,
        )

    def optimize(self, request: DayRequest) -> DayResult:
        """A validated optimal schedule for ``request``, or a diagnosis."""
        return optimize_day(request, self.solver)
