"""The house's seams: device kinds as components, one day-request builder, real agents,
configs composed only by Hydra, one request schema, and the layering of the package.

Each test here failed before the rebuild of issue 12 (the bug it names is in its docstring).
"""

from __future__ import annotations

import ast
import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ems.agents.optimizer import GlobalOptimizer
from ems.config import instantiate, load_config
from ems.data.days import DayData
from ems.experiment.protocols import Experiment
from ems.experiment.runner import _combinations
from ems.experiment.settlement import settle
from ems.optim import validate
from ems.optim.kinds import DEVICE_KINDS, STORAGE_KINDS, DeviceKind, StorageKind, UnknownKind, device_kind
from ems.optim.optimize import optimize_day
from ems.optim.request import RequestError, parse_request
from ems.optim.result import DayResult, StorageSchedule
from ems.planning.needs import ReplaySettings, metered_needs

from conftest import ROOT, run_cli

DAY = {"import_price_eur_kwh": [0.3] * 24, "grid": {"max_import_kw": 10, "max_export_kw": 10},
       "devices": [{"name": "dishwasher", "flex_model": "discrete_phase", "phases_kw": [1.0, 0.5]}]}


def test_every_kind_owns_its_whole_formulation_and_the_validator_checks_it():
    """Before: kinds were told apart by isinstance in 9 places; an unknown kind fell into partial usage."""
    for kinds, protocol in ((DEVICE_KINDS, DeviceKind), (STORAGE_KINDS, StorageKind)):
        for kind in kinds.values():
            members = {m for m in dir(protocol) if not m.startswith("_")} | set(protocol.__annotations__)
            for member in members:
                assert hasattr(kind, member), (kind.key, member)
    assert set(validate.DEVICE_CHECKS) == set(DEVICE_KINDS)
    assert set(validate.STORAGE_CHECKS) == set(STORAGE_KINDS)
    with pytest.raises(UnknownKind, match=r"flex_model='heat_store': no device kind of that name \(known: "
                                          r"discrete_phase, partial_usage, thermal\)"):
        device_kind("heat_store")


@pytest.mark.parametrize("change, message", [
    ({"bogus": 1}, "bogus: unknown key of the day request"),
    ({"devices": [{"name": "d", "flex_model": "discrete_phase", "phasez_kw": [1.0]}]},
     "devices[0].phasez_kw: unknown key of the discrete-phase device (did you mean phases_kw?)"),
    ({"devices": [{"name": "d", "flex_model": "discrete_phase", "phases_kw": [1.0], "min_gap_step": 1}]},
     "devices[0].min_gap_step: unknown key of the discrete-phase device (did you mean min_gap_steps?)"),
    ({"battery": {"capacity_kwh": 5, "max_charge_kw": 1, "max_discharge_kw": 1, "soc_init_kwh": 1, "soc_max": 4}},
     "battery.soc_max: unknown key of the battery (did you mean soc_max_kwh?)"),
    ({"grid": {"max_import_kw": 1, "max_export_kw": 1, "limit": 3}}, "grid.limit: unknown key of the grid"),
])
def test_unknown_keys_are_refused_naming_the_key(change, message):
    """Before: the full day request ignored unknown keys (phasez_kw, min_gap_step, bogus passed with exit 0)."""
    with pytest.raises(RequestError) as err:
        parse_request({**DAY, **change})
    assert str(err.value).startswith(message), str(err.value)


def test_cli_refuses_an_unknown_key_with_exit_2(tmp_path):
    path = tmp_path / "day.json"
    path.write_text(json.dumps({**DAY, "devices": [{**DAY["devices"][0], "phasez_kw": [1]}]}))
    done = run_cli("-m", "ems", "optimize", str(path))
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"error: {path}: devices[0].phasez_kw: unknown key")


def test_a_single_ev_session_may_be_written_flat_or_as_sessions():
    flat = {"capacity_kwh": 10, "max_charge_kw": 2, "soc_init_kwh": 2, "soc_target_kwh": 6, "deadline_step": 4}
    a = parse_request({**DAY, "ev": flat})
    b = parse_request({**DAY, "ev": {"capacity_kwh": 10, "max_charge_kw": 2, "sessions": [
        {"soc_init_kwh": 2, "soc_target_kwh": 6, "deadline_step": 4}]}})
    assert a.evs == b.evs and a.evs[0].sessions[0].arrival_step == 0


def test_ev_sessions_are_charged_in_their_cheapest_hours_exactly():
    """A hand-solvable two-session day: 4 kWh in [0, 6) and 2 kWh in [18, 24), 2 kW charger, eta 1."""
    prices = [0.30] * 24
    prices[2], prices[3], prices[20] = 0.10, 0.12, 0.05
    request = parse_request({"import_price_eur_kwh": prices, "grid": {"max_import_kw": 10, "max_export_kw": 0},
                             "ev": {"capacity_kwh": 10, "max_charge_kw": 2, "sessions": [
                                 {"soc_init_kwh": 6, "soc_target_kwh": 10, "arrival_step": 0, "deadline_step": 6},
                                 {"soc_init_kwh": 8, "soc_target_kwh": 10, "arrival_step": 18}]}})
    result = optimize_day(request)
    assert result.status == "optimal"
    assert result.energy_cost_eur == pytest.approx(2 * 0.10 + 2 * 0.12 + 2 * 0.05, abs=1e-9)
    assert result.storages["ev"].soc_kwh[6] == pytest.approx(10) and result.storages["ev"].soc_kwh[18] == pytest.approx(8)
    assert result.storages["ev"].soc_kwh[24] == pytest.approx(10)


def test_settlement_counts_the_ev():
    """Before: settle() ignored the EV schedule, so a plan with the EV as a storage settled without its charging."""
    plan = DayResult(status="optimal", pv_curtailed_kw=[0.0, 0.0],
                     storages={"ev": StorageSchedule(charge_kw=[2.0, 0.0], soc_kwh=[0.0, 2.0, 2.0])})
    actual = settle(plan, np.array([0.5, 0.5]), np.array([0.0, 1.0]))
    assert actual.import_kw.tolist() == [2.5, 0.0] and actual.export_kw.tolist() == [0.0, 0.5]


def test_battery_bounds_follow_the_capacity():
    """Before: battery.capacity_kwh=5 failed (soc_max stayed 10) and capacity_kwh=20 silently used 10 kWh."""
    for capacity in (5, 20):
        agent = instantiate(load_config(["battery=home", f"battery.capacity_kwh={capacity}"]).battery)
        spec = agent.spec()
        assert (spec.capacity_kwh, spec.soc_max_kwh, spec.soc_min_kwh) == (capacity, capacity, 0.1 * capacity)
        assert spec.soc_init_kwh == spec.soc_final_min_kwh == 0.5 * capacity


def test_battery_agent_carries_its_soc_across_days():
    agent = instantiate(load_config(["battery=home"]).battery)
    request = parse_request({"import_price_eur_kwh": [0.1, 0.5], "export_price_eur_kwh": 0.0, "base_load_kw": [0, 2],
                             "grid": {"max_import_kw": 10, "max_export_kw": 0},
                             "battery": agent.spec().model_dump()})
    plan = optimize_day(request)
    agent.end_day(plan)
    assert agent.soc_kwh == pytest.approx(plan.storages["battery"].soc_kwh[-1]) and agent.spec().soc_init_kwh == agent.soc_kwh
    agent.reset()
    assert agent.soc_kwh == 5.0


def test_compare_keeps_the_users_overrides(shipped_db):
    """Before: `experiment=compare mode=phases mode.w_prob=0.5` composed 0.5, yet both phases runs used 0.01."""
    overrides = ["experiment=compare", "mode=phases", "mode.w_prob=0.5", "battery=home", "battery.capacity_kwh=7",
                 f"paths.db={shipped_db}"]  # the default prior=learned reads the store
    cfg = load_config(overrides)
    combos = _combinations(cfg, Experiment.from_config(cfg), overrides)
    assert len(combos) == 10
    assert combos["phases/none"][0].mode.w_prob == 0.5 and combos["phases/home"][0].mode.w_prob == 0.5
    assert combos["phases/home"][0].batteries[0].capacity_kwh == 7 and combos["baseline/none"][0].batteries == []
    assert combos["baseline/home"][0].mode.name == "baseline"


def test_a_part_that_breaks_its_protocol_is_refused():
    """Before: the runner read modes from an untyped dict (`getattr(mode, 'uses_battery', False)`): a mode
    that forgot the attribute silently ran without the battery."""
    cfg = load_config(["mode=baseline", "mode._target_=ems.experiment.forecast.PerfectForecast"])
    with pytest.raises(ValueError, match=r"^mode: PerfectForecast does not implement Mode \(check mode._target_\)$"):
        Experiment.from_config(cfg)


def test_none_options_are_plain_and_sweep_is_an_optional_group():
    cfg = load_config([])
    assert instantiate(cfg.battery) is None and instantiate(cfg.ev) is None and instantiate(cfg.learner) is None
    assert cfg.get("sweep") is None
    for path in (ROOT / "conf").glob("*/none.yaml"):
        assert "@package" not in path.read_text(), path
    assert load_config(["sweep=surcharge_check"]).name == "surcharge_check"  # selected without '+'


def test_service_composes_its_config_from_the_overrides(shipped_db, tmp_path):
    """Before: the service always loaded battery=home/ev=home and ignored `serve mode.w_prob=...`."""
    from ems.service.expand import expand
    from ems.service.state import Services, service_overrides

    base = [f"paths.db={shipped_db}", f"paths.output_dir={tmp_path}"]
    composed = service_overrides([*base, "battery=none", "mode.w_prob=0.3"])
    services = Services(load_config(composed), composed)
    assert services.settings.w_prob == 0.3 and services.settings.batteries == []
    service = services.get("residential3")
    body = {"building_id": "residential3", "target_date": "2016-06-08", "price_profile": [0.3] * 24,
            "battery_enabled": True}
    with pytest.raises(RequestError, match="battery_enabled: the service runs without a battery"):
        expand(body, service.building, service.profile, service.agent, services.settings)
    request = expand({**body, "battery_enabled": False}, service.building, service.profile, service.agent,
                     services.settings)
    assert request.batteries == []
    assert all(d.preference_weight in (0.0, 0.3) for d in request.devices)


def _day(energy: dict[str, list[float]]) -> DayData:
    """A 3-hour day built for the test (not data): hour table and meter energies (kWh per hour)."""
    hours = pl.DataFrame({"utc_hour": [0, 1, 2], "local_date": [date(2017, 6, 1)] * 3, "local_hour": [1, 2, 3],
                          "price_eur_mwh": [30.0] * 3})
    return DayData(date(2017, 6, 1), hours, {k: np.asarray(v, float) for k, v in energy.items()})


def test_every_generation_meter_counts():
    """Before: the replay read only a meter named `pv`, so industrial3's pv_facade and pv_roof were ignored."""
    building = instantiate(load_config(["building=industrial3"]).building)
    day = _day({"grid_import": [1.0, 1.0, 1.0], "pv_facade": [0.0, 0.5, 1.0], "pv_roof": [0.0, 1.0, 2.0]})
    needs = metered_needs(day, building, ReplaySettings(), {})
    assert needs.pv_kw.tolist() == [0.0, 1.5, 3.0]
    assert needs.base_kw.tolist() == [1.0, 2.5, 4.0]


def test_replay_and_service_pose_the_ev_the_same_way(shipped_db, tmp_path):
    """Before: the replay posed the EV as two partial-usage windows, the service as a storage with a deadline."""
    from ems.service.profiles import typical_needs
    from ems.service.state import Services, service_overrides

    building = instantiate(load_config(["building=residential4"]).building)
    ev = instantiate(load_config(["ev=home"]).ev)
    day = _day({"grid_import": [3.0, 3.0, 1.0], "ev": [2.0, 2.0, 0.0]})
    needs = metered_needs(day, building, ReplaySettings(), {}, [ev])
    replayed = GlobalOptimizer(building.grid, evs=[ev]).request(needs, [0.3] * 3, [0.0] * 3)
    assert replayed.evs[0].sessions[0].soc_target_kwh - replayed.evs[0].sessions[0].soc_init_kwh == pytest.approx(4 * 0.9)
    assert not [d for d in replayed.devices if d.name.startswith("ev")]
    composed = service_overrides([f"paths.db={shipped_db}", f"paths.output_dir={tmp_path}"])
    service = Services(load_config(composed), composed).get("residential4")
    hours = np.arange(24)
    served = GlobalOptimizer(building.grid, evs=[ev]).request(typical_needs(service.profile, building, date(2016, 6, 8),
                                                                         hours, [ev]), [0.3] * 24, [0.0] * 24)
    assert type(served.evs[0]) is type(replayed.evs[0]) and served.evs[0].sessions[0].deadline_step == ev.departure_hour


#: Layers from the bottom; a module may import its own layer and those below, never one above.
LAYERS = [("config", "checks", "messages", "data"), ("optim",), ("building", "tariff", "learning", "forecasting"), ("planning",), ("agents",),
          ("experiment",), ("evaluation",), ("service", "dashboard", "cli", "__main__")]


def _imports(path: Path) -> set[str]:
    """ems modules imported anywhere in the file (also inside functions), except typing-only imports."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            node.body = []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ems"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ems")}
    return found


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    return next((i for i, names in enumerate(LAYERS) if top in names), -1)


def test_no_import_from_a_higher_layer_and_no_circle():
    """Before: learning/train.py and learning/plots.py imported from experiment/, ensure_database lived in the
    runner, and learning/priors.py <-> learning/usage.py was a circle held off by lazy imports."""
    package = ROOT / "ems"
    graph = {}
    for path in package.rglob("*.py"):
        module = "ems." + ".".join(path.relative_to(package).with_suffix("").parts).removesuffix(".__init__")
        graph[module] = _imports(path)
        for target in graph[module]:
            if _layer(module) >= 0 and _layer(target) >= 0:
                assert _layer(target) <= _layer(module), f"{module} imports {target} from a higher layer"
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            nxt = nxt if nxt in graph else nxt.rsplit(".", 1)[0]
            if state.get(nxt) == 1 and nxt != node and not node.startswith(nxt + "."):
                raise AssertionError("import circle: " + " -> ".join(trail + [nxt]))
            if nxt in graph and state.get(nxt) is None:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])


def test_battery_capacity_changes_the_replay_on_real_days(shipped_db, tmp_path):
    """A capacity sweep on real residential4 June days: the cycles follow the configured capacity
    (before, capacity_kwh=20 silently ran a 10 kWh battery and halved the cycles KPI)."""
    from ems.experiment.runner import run_experiment

    cycles = {}
    for capacity in (5, 20):
        cfg = load_config(["mode=centralized", "battery=home", f"battery.capacity_kwh={capacity}",
                           "period.start=2016-06-01", "period.n_days=7", "tracking.enabled=false",
                           f"paths.db={shipped_db}", f"paths.output_dir={tmp_path}",
                           "objective=battery_cycles"])
        cycles[capacity] = run_experiment(cfg, tmp_path / str(capacity))
    assert cycles[5] > 2 * cycles[20] > 0
