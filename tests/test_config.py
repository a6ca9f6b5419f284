"""Every option of every config group composes and instantiates (Hydra compose API)."""

from __future__ import annotations

from datetime import date

import pytest

from ems.agents.battery import BatteryAgent
from ems.agents.ev import EVAgent
from ems.building import Building
from ems.config import config_dir, instantiate, load_config
from ems.optim.solver import SolverSpec
from ems.evaluation.settings import SECTIONS
from ems.tariff import Tariff

GROUPS = ["building", "mode", "battery", "ev", "prior", "solver", "tariff", "experiment", "paths", "data", "forecast",
          "horizon", "planning", "replay", "learner", "predictor", "evaluation", "heating"]
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((config_dir() / g).glob("*.yaml"))]


def test_every_group_has_options():
    assert set(GROUPS) == {p.name for p in config_dir().iterdir() if p.is_dir()}  # no group left untested
    assert {g for g, _ in OPTIONS} == set(GROUPS)
    assert {o for g, o in OPTIONS if g == "building"} == {"industrial3", *(f"residential{i}" for i in range(1, 7))}
    assert {o for g, o in OPTIONS if g == "tariff"} == {"dynamic", "fixed", "tou", "industrial"}


@pytest.mark.parametrize("group, option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_instantiates(group, option, shipped_db, tmp_path):
    # prior=learned reads the store: point it at the session's real database.
    cfg = load_config([f"{group}={option}", f"paths.db={shipped_db}", f"paths.output_dir={tmp_path}"])
    node = cfg.get(group) if group != "experiment" else None
    obj = instantiate(node) if node is not None and "_target_" in node else None
    if group == "building":
        assert isinstance(obj, Building) and obj.id == option
        assert set(obj.settlement_meters) <= set(obj.devices)
    elif group == "battery":
        assert (obj is None) == (option == "none") and (obj is None or isinstance(obj, BatteryAgent))
    elif group == "ev":
        assert (obj is None) == (option == "none") and (obj is None or isinstance(obj, EVAgent))
    elif group == "solver":
        assert isinstance(obj, SolverSpec) and obj.name == option and obj.available()
    elif group == "tariff":
        assert isinstance(obj, Tariff) and obj.feed_in_eur_kwh == 0.082
    elif group == "prior":
        for device in ("dishwasher", "heat_pump", "ev"):
            for day in (date(2016, 6, 6), date(2016, 6, 11)):  # a Monday and a Saturday
                pmf = obj.pmf(device, day)
                assert pmf.shape == (24,) and abs(pmf.sum() - 1) < 1e-12 and (pmf > 0).all()
    elif group == "mode":
        assert obj.name == option and callable(obj.plan)
    elif group == "experiment":
        assert cfg.name == option
    elif group in ("forecast", "planning"):
        assert obj.name == option
    elif group == "horizon":
        assert obj.name == option and 24 <= obj.hours <= 48
    elif group == "predictor":
        assert obj.lgbm["num_leaves"] == 31 and obj.catboost["iterations"] == 500
    elif group == "learner":
        assert (obj is None) == (option == "none") and (obj is None or callable(obj.after_day))
    elif group == "heating":  # quota carries only its delta from thermal
        assert obj.settings.schedule == option and obj.settings.devices == ["heat_pump"] and not obj.fits
        thermal = instantiate(load_config(["heating=thermal"]).heating).settings
        assert obj.settings.model_dump(exclude={"schedule"}) == thermal.model_dump(exclude={"schedule"})
    elif group == "evaluation":  # quick carries only its deltas from full
        assert obj.name == option and obj.sections == list(SECTIONS) and obj.scenarios.keys() == {
            "cost_only", "user_preference", "full_der"}
        full = instantiate(load_config(["evaluation=full"]).evaluation)
        assert (obj.buildings == full.buildings) == (option == "full") and obj.forecast == full.forecast


def test_building_config_matches_the_shipped_meters(shipped_db):
    from ems.data.store import Store

    with Store(shipped_db) as store:
        for i in range(1, 7):
            building = instantiate(load_config([f"building=residential{i}"]).building)
            devices = store.devices(building.id)
            assert dict(zip(devices["device"], devices["flex_model"])) == building.devices


@pytest.mark.parametrize(
    "override, message",
    [
        ("battery.charge_efficiency=1.2", "battery.charge_efficiency=1.2 must be in (0, 1]"),
        ("battery.soc_init_frac=1.2", "battery.soc_init_frac=1.2 must be a fraction in [0, 1] (of the capacity)"),
        ("battery.soc_init_frac=0.05", "battery.soc_init_frac=0.05 is outside [battery.soc_min_frac, battery.soc_max_frac]"),
        ("battery.soc_kwh=3", "Could not override 'battery.soc_kwh'"),
        ("ev.max_charge_kw=-1", "ev.max_charge_kw=-1 must be a non-negative number"),
        ("solver.name=gurobi", "solver.name='gurobi': must be one of highs, cbc"),
        ("solver.time_limit_s=0", "solver.time_limit_s=0: must be positive"),
        ("solver.tim_limit_s=5", "Could not override 'solver.tim_limit_s'"),
        ("building.devices.pv=solar", "building.devices.pv: flex model 'solar' is not one of"),
        ("+battery.capacity=3", "battery.capacity: unknown key (did you mean capacity_kwh?)"),
        ("+horizon.replan=3", "horizon.replan: unknown key (did you mean replan_hours?)"),
        ("planning.n_scenarios=0", "planning.n_scenarios=0 must be a whole number >= 1"),
        ("+planning.foo=1", "planning.foo: unknown key (known keys: n_scenarios, source, correlation"),
        ("horizon.replan_hours=24", "horizon.replan_hours=24: must be null (plan once a day) or a whole number"),
        ("mode.late_quantile=2", "mode.late_quantile=2: must be a fraction in [0, 1]"),
        ("+mode.late=0.1", "mode.late: unknown key (known keys: opportunity_quantile, opportunity_share"),
        ("tariff.demand_eur_kw_year=-5", "tariff.demand_eur_kw_year=-5"),
    ],
)
def test_bad_config_values_name_the_key(override, message):
    group = override.lstrip("+").split(".")[0]
    extra = {"battery": ["battery=home"], "ev": ["ev=home"], "planning": ["planning=stochastic"],
             "horizon": ["horizon=mpc"], "mode": ["mode=seed_heuristic"], "tariff": ["tariff=industrial"]}.get(group, [])
    with pytest.raises(Exception) as err:
        instantiate(load_config([*extra, override]).get(group), where=group)
    assert message in str(err.value)
    if not message.startswith("Could not"):  # our own checks: one line naming the key
        assert isinstance(err.value, ValueError) and "\n" not in str(err.value)
