"""GlobalOptimizer: the coordinator. It asks each agent for its part of the day request and solves it.

This is the one day-request builder: the replay (a metered day), the service
and the pyfunc model (a building's typical day) all hand it a
:class:`~ems.planning.needs.DayNeeds` and prices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ems.agents.battery import BatteryAgent
from ems.agents.ev import Carry, EVAgent
from ems.agents.pv import PVAgent
from ems.optim.kinds.grid import Grid
from ems.optim.optimize import optimize_day
from ems.optim.request import DayRequest
from ems.optim.result import DayResult
from ems.optim.solver import SolverSpec
from ems.planning.needs import DayNeeds


@dataclass
class GlobalOptimizer:
    """Schedules all flexible devices, batteries and EVs of a building together (one MILP per day).

    ``batteries`` / ``evs`` are the house's agents (any number, each with its own name and state);
    ``pv`` says whether PV may be curtailed; ``grid`` holds the connection limits (kW).
    """

    grid: Grid
    solver: SolverSpec = field(default_factory=SolverSpec)
    batteries: list[BatteryAgent] = field(default_factory=list)
    evs: list[EVAgent] = field(default_factory=list)
    pv: PVAgent = field(default_factory=PVAgent)
    theta: float = 0.05

    def request(self, needs: DayNeeds, import_price_eur_kwh, export_price_eur_kwh, base_kw=None, pv_kw=None,
                with_battery: bool = True, carry: dict[str, Carry] | None = None) -> DayRequest:
        """The priced day request: the needs' jobs, the agents' batteries and EVs, the grid.

        ``base_kw`` / ``pv_kw`` (kW per step) are what the plan assumes
        (a forecast); default the needs' own values. Prices in EUR/kWh.
        ``carry``: per EV name, the overnight sessions it shares with the days
        around (see :class:`ems.agents.ev.Carry`); none by default.
        """
        base = needs.base_kw if base_kw is None else base_kw
        pv = needs.pv_kw if pv_kw is None else pv_kw
        carry = carry or {}
        evs = []
        for ev in self.evs:
            c = carry.get(ev.name, Carry())
            spec = ev.spec(needs, after=c.after, before=c.before, start_soc_kwh=c.start_soc_kwh)
            if spec is not None:
                evs.append(spec)
        return DayRequest(
            step_hours=1.0, import_price_eur_kwh=np.asarray(import_price_eur_kwh, float).tolist(),
            export_price_eur_kwh=np.asarray(export_price_eur_kwh, float).tolist(),
            pv_kw=np.maximum(pv, 0.0).tolist(), base_load_kw=np.maximum(base, 0.0).tolist(), grid=self.grid,
            devices=[d.model_copy(deep=True) for d in needs.devices],
            batteries=[b.spec() for b in self.batteries] if with_battery else [], evs=evs,
            theta=self.theta, solver=self.solver, pv_curtailable=self.pv.curtailable,
        )

    def optimize(self, request: DayRequest) -> DayResult:
        """A validated optimal schedule for ``request``, or a diagnosis."""
        return optimize_day(request, self.solver)
