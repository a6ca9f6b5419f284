"""The REST service on a real uvicorn server on 127.0.0.1, and the MLflow pyfunc model."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import mlflow
import pandas as pd
import pytest

from ems.config import load_config
from ems.optim.request import parse_request
from ems.optim.result import DayResult
from ems.optim.validate import violations
from ems.service.expand import expand
from ems.service.state import Services, service_overrides

from conftest import ROOT, Server

SEED_OPTIMIZE = {"mode": "optimize", "building_id": "DE_KN_residential3", "target_date": "2025-06-08",
                 "price_profile": [0.28] * 7 + [0.33] * 4 + [0.25] * 6 + [0.35] * 4 + [0.30] * 3,
                 "battery_enabled": True, "ev_enabled": False}
SEED_LEARN = {"mode": "learn", "building_id": "DE_KN_residential3", "date": "2025-06-08",
              "actual_usage": {"DE_KN_residential3_washing_machine": [0] * 10 + [1, 1] + [0] * 12}}


@pytest.fixture
def overrides(shipped_db, tmp_path):
    return [f"paths.db={shipped_db}", f"paths.output_dir={tmp_path}"]


@pytest.fixture
def server(overrides):
    s = Server(overrides)
    yield s
    s.stop()


def test_health_and_docs(server):
    status, body = server.call("GET", "/health")
    assert status == 200 and body["status"] == "ok" and "residential3" in body["buildings"]
    with urllib.request.urlopen(server.url + "/openapi.json") as response:
        paths = json.loads(response.read())["paths"]
    assert {"/optimize", "/learn", "/health", "/buildings/{building}/pmf"} <= set(paths)


def test_profiles_are_warmed_in_the_background_from_start(overrides):
    for warm, expected in (("true", True), ("false", False)):
        server = Server([*overrides, f"service.warm={warm}"])
        try:
            deadline = time.time() + 60
            while not (body := server.call("GET", "/health")[1])["warm"] and time.time() < deadline and expected:
                time.sleep(0.2)
            assert body["warm"] is expected
            status, result = server.call("POST", "/optimize", SEED_OPTIMIZE)
            assert status == 200 and result["status"] == "optimal"
        finally:
            server.stop()


def test_seed_optimize_request_returns_a_valid_schedule(server, overrides):
    status, body = server.call("POST", "/optimize", SEED_OPTIMIZE)
    assert status == 200 and body["status"] == "optimal"
    composed = service_overrides(overrides)
    services = Services(load_config(composed), composed)
    service = services.get("residential3")
    request = expand(SEED_OPTIMIZE, service.building, service.profile, service.agent, services.settings)
    assert violations(request, DayResult.from_dict(body)) == []
    assert len(body["import_kw"]) == 24 and "battery" in body["storages"] and "dishwasher" in body["devices"]


def test_full_request_with_negative_prices_is_valid(server):
    full = {"import_price_eur_kwh": [-0.05] * 2 + [0.30] * 22, "export_price_eur_kwh": 0.08,
            "pv_kw": [0.0] * 24, "base_load_kw": [0.5] * 24, "grid": {"max_import_kw": 10, "max_export_kw": 10},
            "devices": [{"name": "dishwasher", "flex_model": "discrete_phase", "phases_kw": [2.0, 0.5]}]}
    status, body = server.call("POST", "/optimize", full)
    assert status == 200 and body["devices"]["dishwasher"]["starts"] == [0]
    assert violations(parse_request(full), DayResult.from_dict(body)) == []


@pytest.mark.parametrize("payload, status, detail", [
    ({**SEED_OPTIMIZE, "price_profile": [0.3] * 23}, 422, "price_profile: has 23 values, expected 24"),
    ({**SEED_OPTIMIZE, "target_date": "2025-03-30"}, 422, "expected 23 (one per local hour of 2025-03-30)"),
    ({**SEED_OPTIMIZE, "building_id": "DE_KN_residential9"}, 404,
     "building_id='DE_KN_residential9': no such building (known: residential1, residential2, residential3, residential4, residential5, residential6)"),
    ({**SEED_OPTIMIZE, "battery_enabled": "yes"}, 422, "battery_enabled='yes': expected true or false"),
    ({"import_price_eur_kwh": [0.3] * 24, "pv_kw": [0.0] * 24, "base_load_kw": [0.5] * 24,
      "export_price_eur_kwh": 0.0, "grid": {"max_import_kw": 5, "max_export_kw": 0},
      "devices": [{"name": "d", "flex_model": "discrete_phase", "phases_kw": [1, 1, 1], "earliest_start": 22}]},
     409, ["d: a 3-step cycle cannot fit in [22, 24)"]),
])
def test_bad_requests_get_the_right_status(server, payload, status, detail):
    code, body = server.call("POST", "/optimize", payload)
    assert code == status
    assert detail == body["detail"] if isinstance(detail, list) else detail in body["detail"]


def test_nan_and_non_objects_are_422_not_500(server):
    raw = json.dumps({**SEED_OPTIMIZE, "price_profile": [float("nan")] + [0.3] * 23}).encode()
    code, body = server.call("POST", "/optimize", raw=raw)
    assert code == 422 and body["field"] == "price_profile[0]"
    code, _ = server.call("POST", "/optimize", raw=b"[1, 2, 3]")
    assert code == 422
    code, _ = server.call("POST", "/optimize", raw=b"{not json")
    assert code == 422
    code, body = server.call("POST", "/learn", {**SEED_LEARN, "actual_usage": {"DE_KN_residential3_sauna": [0] * 24}})
    assert code == 404 and "no device 'sauna'" in body["detail"]
    code, body = server.call("POST", "/learn", {**SEED_LEARN, "actual_usage": {
        "DE_KN_residential3_washing_machine": [0] * 23}})
    assert code == 422 and body["field"] == "actual_usage.DE_KN_residential3_washing_machine"


def test_learn_is_durable_and_idempotent_across_a_restart(overrides):
    first = Server(overrides)
    try:
        code, body = first.call("POST", "/learn", SEED_LEARN)
        assert code == 200 and body["learned"] == ["washing_machine"] and body["day_type"] == "weekend"
        assert body["diagnostics"]["washing_machine"]["n"] == 1
        learned_pmf = body["pmfs"]["washing_machine"]
        code, body = first.call("POST", "/learn", SEED_LEARN)
        assert body["learned"] == [] and body["already_learned"] == ["washing_machine"]
    finally:
        first.stop()
    second = Server(overrides)
    try:
        code, body = second.call("GET", "/buildings/DE_KN_residential3/pmf")
        assert code == 200 and body["updates"]["washing_machine"] == 1
        assert body["pmfs"]["washing_machine"]["weekend"] == pytest.approx(learned_pmf)
        code, body = second.call("POST", "/learn", SEED_LEARN)
        assert body["already_learned"] == ["washing_machine"]
    finally:
        second.stop()


def test_pyfunc_model_round_trip(overrides):
    from ems.service.pyfunc import package

    composed = service_overrides(["building=residential3", *overrides])
    cfg = load_config(composed)
    services = Services(cfg, composed)
    service = services.get("residential3")
    rows = pd.DataFrame([
        {"building_id": "DE_KN_residential3", "date": "2016-06-08", "prices": [0.3] * 12 + [0.2] * 12,
         "battery_enabled": True, "ev_enabled": False},
        {"building_id": "DE_KN_residential3", "date": "2016-03-27", "prices": [0.3] * 24,
         "battery_enabled": False, "ev_enabled": False}])
    package(service, services.settings, cfg.tracking.uri, "service_models", cfg.tracking.artifact_root, rows.head(1))
    mlflow.set_tracking_uri(cfg.tracking.uri)
    model = mlflow.pyfunc.load_model("models:/residential3_scheduler/1")
    out = model.predict(rows)
    assert out["status"].tolist() == ["optimal", "invalid"]
    body = {"building_id": "DE_KN_residential3", "target_date": "2016-06-08", "price_profile": rows.prices[0],
            "battery_enabled": True, "ev_enabled": False}
    request = expand(body, service.building, service.profile, service.agent, services.settings)
    assert violations(request, DayResult.from_dict(json.loads(out.result[0]))) == []
    assert "expected 23 (one per local hour of 2016-03-27)" in json.loads(out.result[1])["detail"]
    assert not (ROOT / "mlruns").exists()  # artifacts stay under paths.output_dir
