"""The rule-based scheduler: what a careful household could do without an optimiser.

Each part is placed by its kind's ``rule_schedule`` (step prices are import
prices, EUR/kWh): devices first (cycles in the cheapest window outside the
dearest quarter, energy in the cheapest steps), then the EV (cheapest
plugged-in steps), then the battery against the resulting house load
(charging in the cheapest quarter, discharging in the dearest quarter, never
below max(soc_min, soc_final_min) and never more than the house needs). The
result goes through the same independent validator as the MILP's.
"""

from __future__ import annotations

import numpy as np

from ems.optim.kinds import device_kind
from ems.optim.optimize import price
from ems.optim.request import DayRequest
from ems.optim.result import DayResult
from ems.optim.validate import validate


def rule_based_schedule(r: DayRequest) -> DayResult:
    """Schedule ``r`` by the rules above; infeasible when a rule cannot meet a constraint."""
    prices = np.asarray(r.import_price_eur_kwh, dtype=float)
    pv = np.asarray(r.pv_kw, dtype=float)
    result = DayResult(status="feasible", solver="rule_based")
    problems, penalty, load = place_devices(r, prices, result)
    # storages that answer to the house load (the battery) come after those that add to it (the EV)
    for kind, spec in sorted(r.storages(), key=lambda part: part[0].follows_load):
        if problems:
            break
        kind.rule_schedule(r, spec, prices, load - pv, result)
        storage = result.storages[spec.name]
        load = load + np.asarray(storage.charge_kw) - np.asarray(storage.discharge_kw or np.zeros(r.n_steps))
    if problems:
        return DayResult(status="infeasible", diagnosis=problems, solver="rule_based")
    return settle_rules(r, result, load, penalty, "the rules")


def place_devices(r: DayRequest, prices: np.ndarray, result: DayResult) -> tuple[list[str], float, np.ndarray]:
    """Every device placed by its kind's ``rule_schedule`` into ``result``: (problems, preference penalty EUR,
    the house load with them, kW per step)."""
    problems, penalty = [], 0.0
    for d in r.devices:
        kind = device_kind(d.flex_model)
        problem = kind.rule_schedule(r, d, prices, np.zeros(r.n_steps), result)
        if problem:
            problems.append(problem)
        else:
            penalty += kind.penalty_eur(r, d, result.devices[d.name])
    load = np.asarray(r.base_load_kw, dtype=float) + sum(
        (np.asarray(s.power_kw) for s in result.devices.values()), np.zeros(r.n_steps))
    return problems, penalty, load


def settle_rules(r: DayRequest, result: DayResult, load: np.ndarray, penalty: float, who: str) -> DayResult:
    """Grid import, export and curtailment of a rule-made schedule whose house load (devices and storages)
    is ``load``; infeasible naming the grid limit ``who`` (e.g. "the rules") breaks; else priced and validated."""
    pv = np.asarray(r.pv_kw, dtype=float)
    net = load - pv
    imp, exp = np.maximum(net, 0.0), np.maximum(-net, 0.0)
    curtail = np.zeros_like(exp)
    if r.pv_curtailable:
        curtail = np.minimum(np.maximum(exp - r.grid.max_export_kw, 0.0), pv)
        exp -= curtail
    problems = []
    if (imp > r.grid.max_import_kw + 1e-9).any():
        t = int(np.argmax(imp > r.grid.max_import_kw + 1e-9))
        problems.append(f"grid: {who} need {imp[t]:g} kW at step {t}, max_import_kw={r.grid.max_import_kw:g}")
    elif (exp > r.grid.max_export_kw + 1e-9).any():
        problems.append(f"grid: {who} export more than max_export_kw={r.grid.max_export_kw:g}")
    if problems:
        return DayResult(status="infeasible", diagnosis=problems, solver=result.solver)
    result.import_kw, result.export_kw, result.pv_curtailed_kw = imp.tolist(), exp.tolist(), curtail.tolist()
    price(r, result)
    result.penalty_eur = penalty
    result.add_up()
    validate(r, result)
    return result
