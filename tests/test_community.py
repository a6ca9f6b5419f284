"""A building community: the joint MILP on hand-solved cases over every installed solver, the shared
connection's limit, the bill split, the checks, bad input, and the real Konstanz households alone and jointly."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_cli
from ems.experiment.sharing import internal_price, split_costs
from ems.optim.community import community_violations, optimize_community
from ems.optim.kinds.grid import Grid
from ems.optim.optimize import optimize_day
from ems.optim.request import RequestError, parse_request
from ems.optim.solver import SOLVERS, SolverSpec

SOLVER_NAMES = [name for name in SOLVERS if SolverSpec(name=name).available()]
BUY, SELL = 0.3, 0.1  # EUR/kWh


def house(solver: str, prices=(BUY, BUY), **parts) -> dict:
    return {"import_price_eur_kwh": list(prices), "export_price_eur_kwh": SELL, "solver": {"name": solver},
            "grid": {"max_import_kw": 10.0, "max_export_kw": 10.0}} | parts


@pytest.mark.parametrize("solver", SOLVER_NAMES)
def test_pv_surplus_shared_inside_the_community_is_the_hand_solved_optimum(solver):
    # A: 4 kW of PV in step 0; B: 3 kW then 1 kW of load. Alone: A exports 4 kWh (-0.4 EUR), B imports 4 kWh
    # (1.2 EUR). Jointly B takes 3 kWh of A's PV: the community exports 1 kWh and imports 1 kWh: -0.1 + 0.3.
    a = parse_request(house(solver, pv_kw=[4.0, 0.0]))
    b = parse_request(house(solver, base_load_kw=[3.0, 1.0]))
    assert optimize_day(a).energy_cost_eur + optimize_day(b).energy_cost_eur == pytest.approx(0.8)
    joint = optimize_community({"A": a, "B": b}, Grid(max_import_kw=20.0, max_export_kw=20.0))
    assert joint.ok and joint.energy_cost_eur == pytest.approx(0.2, abs=1e-9)
    assert joint.import_kw == pytest.approx([0.0, 1.0]) and joint.export_kw == pytest.approx([1.0, 0.0])
    nets = {n: np.asarray(r.import_kw) - np.asarray(r.export_kw) for n, r in joint.buildings.items()}
    assert nets["A"] == pytest.approx([-4.0, 0.0]) and nets["B"] == pytest.approx([3.0, 1.0])
    # the split at the midpoint 0.2 EUR/kWh: B pays 3 x 0.2 + 1 x 0.3, A earns 3 x 0.2 + 1 x 0.1
    costs, moved, shared = split_costs(nets, [BUY] * 2, [SELL] * 2, internal_price([BUY] * 2, [SELL] * 2, None))
    assert costs == pytest.approx({"A": -0.7, "B": 0.9}) and shared == pytest.approx([3.0, 0.0])
    assert moved == {"A": pytest.approx((0.0, 3.0)), "B": pytest.approx((3.0, 0.0))}


@pytest.mark.parametrize("solver", SOLVER_NAMES)
def test_the_shared_connection_limit_moves_a_flexible_load(solver):
    # B's 4 kWh window [0, 2) goes to the cheap step alone (0.1 x 4 = 0.4 EUR); behind a 2 kW community
    # connection only 2 kWh fit in that step: 2 x 0.1 + 2 x 0.5 = 1.2 EUR.
    prices = (0.1, 0.5)
    device = {"flex_model": "partial_usage", "name": "boiler", "energy_kwh": 4.0, "max_kw": 4.0}
    b = parse_request(house(solver, prices, devices=[device]))
    a = parse_request(house(solver, prices))
    assert optimize_day(b).energy_cost_eur == pytest.approx(0.4, abs=1e-9)
    joint = optimize_community({"A": a, "B": b}, Grid(max_import_kw=2.0, max_export_kw=2.0))
    assert joint.energy_cost_eur == pytest.approx(1.2, abs=1e-9)
    assert joint.buildings["B"].devices["boiler"].power_kw == pytest.approx([2.0, 2.0], abs=1e-9)
    # 3 kW of base load behind 2 kW is infeasible: the diagnosis names the connection, not a building
    c = parse_request(house(solver, prices, base_load_kw=[3.0, 0.0]))
    stuck = optimize_community({"A": a, "C": c}, Grid(max_import_kw=2.0, max_export_kw=2.0))
    assert stuck.status == "infeasible" and stuck.diagnosis[0].startswith(
        "community connection: max_import_kw=2 / max_export_kw=2 cannot carry the buildings' needs")


def test_the_community_check_catches_a_tampered_schedule_and_mismatched_buildings():
    a = parse_request(house("highs", pv_kw=[4.0, 0.0]))
    b = parse_request(house("highs", base_load_kw=[3.0, 1.0]))
    connection = Grid(max_import_kw=20.0, max_export_kw=20.0)
    joint = optimize_community({"A": a, "B": b}, connection)
    joint.export_kw = [0.0, 0.0]  # the 1 kWh surplus vanishes
    joint.energy_cost_eur = 0.3
    assert community_violations({"A": a, "B": b}, connection, joint) == [
        "community bus: the buildings' net exchange and the connection differ by -1.000000 kW at step 0"]
    other = parse_request(house("highs", prices=(BUY, 0.4)))
    with pytest.raises(RequestError, match="community: B's prices differ from the first building's"):
        optimize_community({"A": a, "B": other}, connection)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.floats(-5, 5), min_size=4, max_size=4), min_size=2, max_size=5),
       st.lists(st.floats(0.05, 0.5), min_size=4, max_size=4), st.floats(0.0, 0.5))
def test_the_split_adds_up_to_the_community_bill(nets, buy, margin):
    nets = {f"b{i}": np.asarray(v) for i, v in enumerate(nets)}
    sell = np.asarray(buy) * (1 - margin)
    costs, _, shared = split_costs(nets, buy, sell, internal_price(buy, sell, None))
    total = np.sum(list(nets.values()), axis=0)
    bill = float(np.maximum(total, 0) @ buy - np.maximum(-total, 0) @ sell)
    assert sum(costs.values()) == pytest.approx(bill, abs=1e-9)
    alone = {n: float(np.maximum(v, 0) @ buy - np.maximum(-v, 0) @ sell) for n, v in nets.items()}
    assert all(costs[n] <= alone[n] + 1e-9 for n in nets)  # at the midpoint nobody pays more than alone
    assert (shared >= -1e-12).all()


@pytest.mark.parametrize("overrides, message", [
    (["buildings=[residential1]"], "buildings=['residential1']: list at least two buildings"),
    (["buildings=[residential1,residential1]"], "a building is listed twice"),
    (["community.max_import_kw=-1"], "community.max_import_kw=-1: must be positive"),
    (["+community.limit_kw=3"], "community.limit_kw=3: Extra inputs are not permitted"),
    (["forecast=ml"], "forecast=ml: the community compares coordination on the metered days"),
    (["buildings=[residential1,residential9]"], "buildings: 'residential9' is not a building config"),
    (["mode=phases"], "mode=phases: the community schedules every part of each building by the MILP"),
    (["tariff=industrial"], "tariff: a community's demand charge is not modelled"),
    (["heating=thermal"], "heating: the community runner plans heat pumps as daily quotas"),
    (["horizon=receding"], "horizon=receding: the community plans each day alone"),
])
def test_bad_community_input_is_one_line(tmp_path, shipped_db, overrides, message):
    result = run_cli("run.py", "experiment=community", "period.n_days=2", "tracking.enabled=false",
                     f"paths.db={shipped_db}", f"hydra.run.dir={tmp_path}", *overrides)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_real_households_alone_and_as_a_community(tmp_path, shipped_db):
    result = run_cli("run.py", "experiment=community", "buildings=[residential1,residential4,residential6]",
                     "period.n_days=6", f"paths.db={shipped_db}", f"paths.output_dir={tmp_path}",
                     f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "community of 3 buildings" in result.stdout and "forecast=perfect" in result.stdout
    table = pl.read_csv(tmp_path / "run" / "community.csv")
    daily = pl.read_csv(tmp_path / "run" / "daily.csv")
    assert table["building"].to_list() == ["residential1", "residential4", "residential6", "community"]
    community = table.filter(pl.col("building") == "community").row(0, named=True)
    members = table.filter(pl.col("building") != "community")
    # the split is exact: the buildings' joint costs add up to the community's bill, day by day
    for day in daily.partition_by("local_date"):
        parts = day.filter(pl.col("building") != "community")["joint_cost_eur"].sum()
        assert parts == pytest.approx(day.filter(pl.col("building") == "community")["joint_cost_eur"][0], abs=1e-6)
    # alone is feasible jointly under a 43.6 kW connection: joint can only be cheaper; June PV is shared
    assert community["joint_total_eur"] <= community["alone_total_eur"] + 1e-6
    assert community["shared_kwh"] > 1 and members["share_of_savings_pct"].sum() == pytest.approx(100.0)
    assert community["joint_self_sufficiency_pct"] >= community["alone_self_sufficiency_pct"] - 1e-9
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["days"] == daily["local_date"].n_unique() >= 4 and "forecast=perfect" in summary["assumptions"]
    assert (tmp_path / "mlflow.db").exists()  # tracked by default


def test_the_sharing_price_moves_the_split_not_the_community_bill(tmp_path, shipped_db):
    tables = {}
    for name, price in (("midpoint", "null"), ("fixed", "0.25")):
        result = run_cli("run.py", "experiment=community", "buildings=[residential1,residential4]", "period.n_days=4",
                         f"community.sharing_price_eur_kwh={price}", "tracking.enabled=false",
                         f"paths.db={shipped_db}", f"hydra.run.dir={tmp_path / name}")
        assert result.returncode == 0, result.stderr[-2000:]
        tables[name] = {r["building"]: r for r in pl.read_csv(tmp_path / name / "community.csv").iter_rows(named=True)}
    mid, fixed = tables["midpoint"], tables["fixed"]
    assert fixed["community"]["joint_total_eur"] == pytest.approx(mid["community"]["joint_total_eur"], abs=1e-6)
    # a dearer internal price than the midpoint: the drawing house pays more, the supplying one earns more
    assert fixed["residential1"]["joint_total_eur"] > mid["residential1"]["joint_total_eur"] + 1e-3
    assert fixed["residential4"]["joint_total_eur"] < mid["residential4"]["joint_total_eur"] - 1e-3
