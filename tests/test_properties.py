"""Property-based tests: generated day requests and generated HTTP calls (bounded in count and time).

* Hypothesis builds day requests of every kind (phases, windows, battery,
  EV, prices of both signs, grid limits, PMFs): a valid one gives a schedule
  that passed the validator or an ``infeasible`` diagnosis naming a part of
  the request, never an exception. Corrupted ones (a wrong type, a value out
  of range, an unknown key, a wrong length) give one RequestError line that
  names the corrupted field, and ``python -m ems optimize`` exits 2 with it.
* Schemathesis generates positive and negative calls of every operation in
  the service's OpenAPI schema against a real uvicorn on 127.0.0.1: no 5xx.

The number of generated cases is set by ``EMS_PROPERTY_EXAMPLES`` (default 60
per property; the counts of a longer run are in the issue note); the cases are
the same on every run unless ``EMS_PROPERTY_RANDOM=1``.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ems.cli import main as cli
from ems.optim.optimize import optimize_day
from ems.optim.request import RequestError, parse_request

from conftest import Server

EXAMPLES = int(os.environ.get("EMS_PROPERTY_EXAMPLES", "60"))
#: The same generated cases on every run (CI); EMS_PROPERTY_RANDOM=1 draws new ones.
DERANDOMIZE = not os.environ.get("EMS_PROPERTY_RANDOM")
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=DERANDOMIZE,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PART_NAMES = ("grid", "battery", "ev")
#: Fields whose null is meaningful (the horizon's end, one export price per step).
NULLABLE = ("latest_end", "deadline_step", "export_price_eur_kwh", "pv_kw", "base_load_kw", "soc_max_kwh")


def _floats(low: float, high: float):
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


@st.composite
def day_requests(draw) -> dict:
    """A JSON day request of 1-24 steps: prices of both signs, up to three devices, maybe a battery and an EV."""
    n = draw(st.integers(1, 24))
    step = draw(st.sampled_from([0.25, 0.5, 1.0]))
    values = lambda low, high: st.lists(_floats(low, high), min_size=n, max_size=n)  # noqa: E731
    body = {"step_hours": step, "import_price_eur_kwh": draw(values(-0.2, 0.6)),
            "grid": {"max_import_kw": draw(_floats(0, 15)), "max_export_kw": draw(_floats(0, 10))}}
    if draw(st.booleans()):
        body["export_price_eur_kwh"] = draw(st.one_of(_floats(-0.1, 0.3), values(-0.1, 0.3)))
    if draw(st.booleans()):
        body["pv_kw"] = draw(values(0, 6))
    if draw(st.booleans()):
        body["base_load_kw"] = draw(values(0, 3))
    devices = []
    for i in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, n - 1))
        device = {"name": f"device{i}", "earliest_start": start, "latest_end": draw(st.integers(start + 1, n))}
        if draw(st.booleans()):
            device |= {"flex_model": "discrete_phase",
                       "phases_kw": draw(st.lists(_floats(0, 3), min_size=1, max_size=min(3, n)))}
        else:
            top = draw(_floats(0, 4))
            device |= {"flex_model": "partial_usage", "energy_kwh": draw(_floats(0, 8)), "max_kw": top,
                       "min_kw": draw(_floats(0, top))}
        if draw(st.booleans()):
            device |= {"pmf": draw(st.lists(_floats(0, 1), min_size=n, max_size=n).filter(lambda p: sum(p) > 0)),
                       "preference_weight": draw(_floats(0, 1))}
        devices.append(device)
    body["devices"] = devices
    if draw(st.booleans()):
        capacity = draw(_floats(0, 15))
        body["battery"] = {"capacity_kwh": capacity, "max_charge_kw": draw(_floats(0, 5)),
                           "max_discharge_kw": draw(_floats(0, 5)), "soc_init_kwh": draw(_floats(0, capacity)),
                           "charge_efficiency": draw(_floats(0.8, 1)), "discharge_efficiency": draw(_floats(0.8, 1)),
                           "degradation_eur_kwh": draw(_floats(0, 0.1))}
    if draw(st.booleans()):
        capacity = draw(_floats(1, 60))
        init = draw(_floats(0, capacity))
        arrival = draw(st.integers(0, n - 1))
        body["ev"] = {"capacity_kwh": capacity, "max_charge_kw": draw(_floats(0, 11)),
                      "sessions": [{"soc_init_kwh": init, "soc_target_kwh": draw(_floats(init, capacity)),
                                    "arrival_step": arrival, "deadline_step": draw(st.integers(arrival + 1, n))}]}
    return body


def _names(body: dict) -> set[str]:
    return {d["name"] for d in body["devices"]} | set(PART_NAMES)


@PROPERTY
@given(day_requests())
def test_a_valid_request_gives_a_checked_schedule_or_a_diagnosis(body):
    try:
        request = parse_request(body)
    except RequestError as exc:  # a combination the schema refuses (e.g. a target above the capacity)
        assert "\n" not in str(exc) and str(exc).split("=")[0].split(":")[0]
        return
    result = optimize_day(request)  # validates the schedule; raises on any violation
    assert result.status in ("optimal", "infeasible"), result.diagnosis
    if result.status == "infeasible":
        assert result.diagnosis and all(line.split(":")[0] in _names(body) for line in result.diagnosis)


CORRUPTIONS = {
    "a string": lambda v: "x", "a bool": lambda v: True, "null": lambda v: None, "a huge number": lambda v: 1e30,
    "a negative number": lambda v: -1.0 - abs(v) if isinstance(v, (int, float)) else -1.0,
}


def _fields(body: dict, prefix: str = "") -> list[tuple[str, tuple]]:
    """(request-notation path, key path) of every number in ``body``."""
    out = []
    for key, value in body.items():
        where = f"{prefix}.{key}" if prefix else key
        if isinstance(value, bool) or isinstance(value, str):
            continue
        if isinstance(value, (int, float)):
            out.append((where, (key,)))
        elif isinstance(value, dict):
            out += [(w, (key, *k)) for w, k in _fields(value, where)]
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    out += [(w, (key, i, *k)) for w, k in _fields(item, f"{where}[{i}]")]
                elif isinstance(item, (int, float)) and not isinstance(item, bool):
                    out.append((f"{where}[{i}]", (key, i)))
    return out


@st.composite
def corrupted_requests(draw) -> tuple[dict, str]:
    """(a request with one number corrupted or one unknown key added, the field the error must name)."""
    body = draw(day_requests())
    if draw(st.integers(0, 5)) == 0:
        body["devices"].append({"name": "extra", "flex_model": "partial_usage", "energy_kwh": 1, "max_kw": 1,
                                "max_kwh": 2})
        return body, f"devices[{len(body['devices']) - 1}].max_kwh"
    where, path = draw(st.sampled_from(_fields(body)))
    how = draw(st.sampled_from(sorted(CORRUPTIONS)))
    if how == "null" and path[-1] in NULLABLE:
        how = "a string"
    node = body
    for key in path[:-1]:
        node = node[key]
    if how == "a negative number" and where.split(".")[-1].split("[")[0] in ("import_price_eur_kwh",
                                                                            "export_price_eur_kwh"):
        how = "a huge number"  # prices may be negative
    node[path[-1]] = CORRUPTIONS[how](node[path[-1]])
    return body, where


@PROPERTY
@given(corrupted_requests())
def test_a_corrupted_request_is_one_line_naming_the_field(case):
    body, where = case
    with pytest.raises(RequestError) as info:
        parse_request(body)
    line = str(info.value)
    assert "\n" not in line
    named = line.split(":")[0].split("=")[0]
    # The corrupted field, or the record it breaks (e.g. a deadline that now precedes the arrival).
    assert named == where or where.startswith(named) or named.startswith(where.rsplit(".", 1)[0]), (line, where)


@settings(max_examples=max(5, EXAMPLES // 6), deadline=None, database=None, derandomize=DERANDOMIZE,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(corrupted_requests())
def test_the_cli_exits_2_with_the_line(tmp_path, capsys, case):
    body, _ = case
    path = tmp_path / "day.json"
    path.write_text(json.dumps(body))
    capsys.readouterr()
    assert cli(["optimize", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {path}: ")


@pytest.fixture(scope="module")
def api(shipped_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("service")
    server = Server([f"paths.db={shipped_db}", f"paths.output_dir={out}", "service.max_steps=96"])
    yield server
    server.stop()


def test_the_service_never_answers_5xx_to_generated_calls(api):
    import schemathesis
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    counts: dict[str, int] = {}
    for operation in schema.get_all_operations():
        op = operation.ok()
        # Negative cases only where there is a body to break (a GET's only input is any string, or none).
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if op.method.upper() == "POST" else (
            GenerationMode.POSITIVE,)
        for mode in modes:
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=DERANDOMIZE,
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(generation_mode=mode))
            def call(case):
                response = case.call(timeout=60)
                counts[f"{response.status_code // 100}xx"] = counts.get(f"{response.status_code // 100}xx", 0) + 1
                assert response.status_code < 500, (case.method, case.path, case.body, response.text[:500])

            call()
    print(f"schemathesis: {sum(counts.values())} requests, by status class {dict(sorted(counts.items()))}")
    assert sum(counts.values()) >= EXAMPLES and counts.get("5xx", 0) == 0


def test_the_service_bounds_body_size_and_horizon(api):
    raw = b'{"import_price_eur_kwh": [' + b"0.3, " * 500_000 + b"0.3]}"
    status, body = api.call("POST", "/optimize", raw=raw)
    assert status == 413 and body["detail"] == (f"request body: {len(raw)} bytes, over the limit of 2000000 bytes "
                                                f"(service.max_body_bytes)")
    long = {"import_price_eur_kwh": [0.3] * 97, "grid": {"max_import_kw": 5, "max_export_kw": 0}}
    status, body = api.call("POST", "/optimize", long)
    assert status == 422 and body["detail"].startswith("import_price_eur_kwh: has 97 steps, more than the limit of 96")
    assert api.call("POST", "/optimize", {**long, "import_price_eur_kwh": [0.3] * 96})[0] == 200


def test_a_chunked_body_over_the_limit_is_refused_as_it_arrives(api):
    import urllib.error
    import urllib.request

    chunks = iter([b'{"import_price_eur_kwh": ['] + [b"0.3, " * 20_000] * 30 + [b"0.3]}"])  # ~3 MB, no length
    request = urllib.request.Request(api.url + "/optimize", data=chunks, method="POST",
                                     headers={"content-type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=60)
    assert info.value.code == 413
    assert json.loads(info.value.read())["detail"].endswith("bytes or more, over the limit of 2000000 bytes "
                                                             "(service.max_body_bytes)")
