"""Inputs that pass a loose check but cannot work: each is one line naming the field or key, exit 2.

Day requests (numbers beyond the schema's bounds, reserved device names,
horizons over the limit, PMFs that do not sum to 1, an unmeetable min_kw),
the overall time limit, and experiment configs (objective, theta, replay
thresholds, tracking URI) checked before anything runs.
"""

from __future__ import annotations

import copy
import json

import pytest

from ems.config import load_config
from ems.experiment.preflight import check_experiment
from ems.optim.optimize import optimize_day
from ems.optim.request import RequestError, parse_request

from conftest import run_cli

BASE = {"import_price_eur_kwh": [0.3] * 4, "grid": {"max_import_kw": 10, "max_export_kw": 5},
        "devices": [{"name": "dishwasher", "flex_model": "discrete_phase", "phases_kw": [1.0, 0.5]}]}


def _with(path: str, value):
    body = copy.deepcopy(BASE)
    node = body
    keys = path.replace("]", "").replace("[", ".").split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node[key]
    last = keys[-1]
    node[int(last) if last.isdigit() else last] = value
    return body


@pytest.mark.parametrize("path, value, message", [
    ("import_price_eur_kwh.0", 10**20, "import_price_eur_kwh[0]=100000000000000000000: must be <= 1000.0"),
    ("import_price_eur_kwh.0", 10**400, "import_price_eur_kwh[0]=1000000000000000000000000000000000000...: "
                                        "expected a finite number"),
    ("import_price_eur_kwh.0", 1e308, "import_price_eur_kwh[0]=1e+308: must be <= 1000.0"),
    ("grid.max_import_kw", 1e300, "grid.max_import_kw=1e+300: must be <= 100000.0"),
    ("step_hours", 1e300, "step_hours=1e+300: must be <= 24.0"),
    ("devices.0.runs", 10**30, "devices[0].runs=1000000000000000000000000000000: must be <= 1000000"),
    ("devices.0.name", "battery", "devices[0].name: 'battery' is reserved for the request's own battery"),
    ("devices.0.name", "grid", "devices[0].name: 'grid' is reserved for the request's own grid"),
    ("devices.0.name", "ev", "devices[0].name: 'ev' is reserved for the request's own ev"),
    ("devices.0.pmf", [0.0] * 4, "devices[0].pmf: every value is 0; leave pmf out"),
    ("devices.0.pmf", [0.5, -0.5, 0.5, 0.5], "devices[0].pmf[1]=-0.5: must not be negative"),
])
def test_out_of_range_requests_name_the_field(path, value, message):
    with pytest.raises(RequestError) as info:
        parse_request(_with(path, value))
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_a_pmf_not_summing_to_one_is_normalised_with_a_warning():
    request = parse_request(_with("devices.0.pmf", [3, 1, 0, 0]))
    assert request.devices[0].pmf == [0.75, 0.25, 0.0, 0.0]
    assert request.warnings == ["devices[0].pmf: sums to 4, not 1; normalised to 1"]
    result = optimize_day(request)
    assert result.warnings == request.warnings
    assert result.devices["dishwasher"].starts == [0]  # the only start whose two steps have P >= theta
    assert parse_request(_with("devices.0.pmf", [0.5, 0.5, 0, 0])).warnings == []


def test_unmeetable_min_kw_names_the_device_and_min_kw():
    body = {**BASE, "devices": [{"name": "heat_pump", "flex_model": "partial_usage", "energy_kwh": 1.0,
                                 "max_kw": 3.0, "min_kw": 2.0}]}
    result = optimize_day(parse_request(body))
    assert result.status == "infeasible"
    assert result.diagnosis == ["heat_pump: min_kw=2: 1 kWh cannot be delivered by steps of 2 to 3 kWh each "
                                "(min_kw to max_kw=3) in the 4 allowed steps"]
    body["devices"][0]["energy_kwh"] = 4.0  # two steps of 2 kWh: feasible
    assert optimize_day(parse_request(body)).status == "optimal"


def test_the_time_limit_covers_building_and_solving():
    body = {**BASE, "import_price_eur_kwh": [0.3, 0.1] * 48, "solver": {"time_limit_s": 1e-9}}
    result = optimize_day(parse_request(body))
    assert result.status == "error"
    assert result.diagnosis == ["solver highs: time limit reached (time_limit_s=1e-09 covers building the model and "
                                "every solve)"]


def test_cli_exit_codes_for_bad_requests(tmp_path):
    long = tmp_path / "long.json"
    long.write_text(json.dumps({**BASE, "import_price_eur_kwh": [0.3] * 1001}))
    result = run_cli("-m", "ems", "optimize", str(long))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: {long}: import_price_eur_kwh: has 1001 steps, more than the limit of "
                                     f"1000 (a longer horizon needs a higher limit: optimize --max-steps, "
                                     f"service.max_steps)")
    assert run_cli("-m", "ems", "optimize", str(long), "--max-steps", "1001").returncode == 0
    digits = tmp_path / "digits.json"
    digits.write_text('{"import_price_eur_kwh": [' + "9" * 5000 + "]}")
    result = run_cli("-m", "ems", "optimize", str(digits))
    assert result.returncode == 2 and result.stderr.startswith(f"error: {digits}: not valid JSON (Exceeds the limit")
    slow = tmp_path / "slow.json"
    slow.write_text(json.dumps({**BASE, "solver": {"time_limit_s": 1e-9}}))
    result = run_cli("-m", "ems", "optimize", str(slow))
    assert result.returncode == 4 and "error: solver highs: time limit reached" in result.stderr


@pytest.mark.parametrize("overrides, message", [
    (["objective=nosuch_kpi"], "objective='nosuch_kpi': no such KPI (KPIs: days, skipped_days,"),
    (["objective=savings_pcnt"], "objective='savings_pcnt': no such KPI (did you mean savings_pct?)"),
    (["objective=[]"], "objective=[]: name at least one KPI"),
    (["objective=learning_score"], "objective='learning_score': a learner metric, but the run has no learner"),
    (["theta=1.5"], "theta=1.5: must be in [0, 1] (a PMF threshold)"),
    (["theta=-0.1"], "theta=-0.1: must be in [0, 1]"),
    (["replay.run_threshold_kwh=-1"], "replay.run_threshold_kwh=-1: must not be negative"),
    (["+replay.partial_max_kw.heat_pump=-3"], "replay.partial_max_kw.heat_pump=-3: must not be negative"),
    (["tracking.uri=nonsense://x"], "tracking.uri=nonsense://x: unknown scheme 'nonsense'"),
    (["tracking.uri=sqlite://"], "tracking.uri=sqlite://: no database file"),
    (["tracking.uri=http://"], "tracking.uri=http://: no host"),
])
def test_meaningless_configs_are_refused_before_anything_runs(overrides, message):
    with pytest.raises(ValueError) as info:
        check_experiment(load_config(overrides))
    assert str(info.value).startswith(message)


def test_the_shipped_experiments_pass_the_checks():
    for overrides in ([], ["experiment=learning"], ["experiment=compare"], ["mode=phases", "learner=adaptive",
                                                                           "objective=learning_score"]):
        check_experiment(load_config(overrides))


def test_run_py_refuses_a_bad_objective_with_one_line_and_writes_nothing(tmp_path):
    result = run_cli("run.py", "objective=nosuch_kpi", f"paths.output_dir={tmp_path}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: objective='nosuch_kpi': no such KPI")
    assert not (tmp_path / "ems.duckdb").exists() and not list(tmp_path.glob("runs/*/*/summary.json"))
