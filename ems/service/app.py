"""The REST service: POST /optimize, POST /learn, GET /health, GET /buildings/{id}/pmf.

Errors: 422 naming the field for malformed input (numbers out of range,
reserved device names, a horizon over ``service.max_steps``), 413 for a body
over ``service.max_body_bytes``, 404 for an unknown building or device, 409
with the diagnosis for an infeasible request, 503 while a building's saved
PMF state cannot be read or written (``/health`` lists it); bad input never
gives a 500. Learn updates are persisted before the response; a date posted
twice for a device is not learned twice.
"""

from __future__ import annotations

import math
import threading
from typing import Annotated, Any, Union

import numpy as np
from fastapi import Body, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from omegaconf import DictConfig
from pydantic import Discriminator, RootModel, Tag

from ems import __version__
from ems.data.calendar import DAY_TYPES, HOURS, day_type
from ems.optim.optimize import optimize_day
from ems.optim.request import DEFAULT_MAX_STEPS, DayRequest, RequestError, error_line
from ems.service.expand import ShortRequest, expand, is_short, iso_date
from ems.service.limits import DEFAULT_MAX_BODY_BYTES, BodyLimit
from ems.service.state import Services, StateUnavailable, UnknownBuilding

OPTIMIZE_EXAMPLE = {"mode": "optimize", "building_id": "DE_KN_residential3", "target_date": "2025-06-08",
                    "price_profile": [0.28] * 7 + [0.33] * 4 + [0.25] * 6 + [0.35] * 4 + [0.3] * 3,
                    "battery_enabled": True, "ev_enabled": False}
LEARN_EXAMPLE = {"mode": "learn", "building_id": "DE_KN_residential3", "date": "2025-06-08",
                 "actual_usage": {"DE_KN_residential3_washing_machine": [0] * 10 + [1, 1] + [0] * 12}}


def _error(status: int, detail: Any, **extra: Any) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail, **extra})


def _field(message: str) -> str:
    return message.split(":")[0].split("=")[0].strip()


def _form(body: Any) -> str:
    return "short" if is_short(body) else "full"


class OptimizeBody(RootModel[Annotated[Union[Annotated[DayRequest, Tag("full")],
                                            Annotated[ShortRequest, Tag("short")]], Discriminator(_form)]]):
    """POST /optimize: the full day request or the seed's short form (told apart by their keys)."""


def create_app(cfg: DictConfig, overrides: list[str] | None = None) -> FastAPI:
    """The service for the config ``cfg`` composed from ``overrides`` (database, prior, tariff, mode, battery, EV)."""
    app = FastAPI(title="ems", version=__version__,
                  description="Day-ahead schedules and usage learning for CoSSMic buildings.")
    services = Services(cfg, overrides)
    options = cfg.get("service") or {}
    max_steps = int(options.get("max_steps") or DEFAULT_MAX_STEPS)
    app.add_middleware(BodyLimit, max_bytes=int(options.get("max_body_bytes") or DEFAULT_MAX_BODY_BYTES))
    if options.get("warm", False):  # in the background: the service answers from the start
        threading.Thread(target=services.warm, name="ems-warm", daemon=True).start()

    @app.exception_handler(RequestValidationError)
    async def invalid_body(_, exc: RequestValidationError) -> JSONResponse:
        line = error_line(exc.errors()[0], skip=1)  # loc starts with "body"
        return _error(422, line, field=_field(line))

    @app.exception_handler(RequestError)
    async def request_error(_, exc: RequestError) -> JSONResponse:
        return _error(422, str(exc), field=_field(str(exc)))

    @app.exception_handler(UnknownBuilding)
    async def unknown_building(_, exc: UnknownBuilding) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(StateUnavailable)
    async def state_unavailable(_, exc: StateUnavailable) -> JSONResponse:
        return _error(503, str(exc))

    @app.get("/health")
    def health() -> dict:
        """``status`` ok, or degraded with ``corrupt_state`` naming each building whose state file
        cannot be read (requests for those get 503 until the file is repaired)."""
        corrupt = services.corrupt()
        return {"status": "degraded" if corrupt else "ok", "version": __version__, "buildings": services.known(),
                "warm": services.warmed, **({"corrupt_state": corrupt} if corrupt else {})}

    @app.post("/optimize")
    def optimize(body: OptimizeBody = Body(..., examples=[OPTIMIZE_EXAMPLE])) -> Any:
        """A full day request (as ``python -m ems optimize``) or the seed's short form."""
        body = body.root
        if isinstance(body, ShortRequest):
            service = services.get(body.building_id)
            request = expand(body, service.building, service.profile, service.require_agent(), services.settings)
        else:
            request = body.check_horizon(max_steps)
        result = optimize_day(request)
        if not result.ok:
            return _error(409, result.diagnosis, result=result.to_dict())
        return result.to_dict()

    @app.post("/learn")
    def learn(body: dict = Body(..., examples=[LEARN_EXAMPLE])) -> Any:
        """Learn one day's actual usage (24 local hours of 0/1 per device column) into the PMFs."""
        service = services.get(body.get("building_id"))
        day = iso_date(body.get("date"), "date")
        usage = body.get("actual_usage")
        if not isinstance(usage, dict) or not usage:
            raise RequestError("actual_usage: expected an object of device column -> 24 values of 0/1")
        vectors = {}
        for column, values in usage.items():
            device = column.removeprefix(f"DE_KN_{service.building.id}_")
            if device not in service.building.devices:
                return _error(404, f"actual_usage.{column}: {service.building.id} has no device {device!r}")
            vectors[device] = _indicator(f"actual_usage.{column}", values)
        learned, repeated, diagnostics = [], [], {}

        def observe(agent) -> dict:
            for device, used in vectors.items():
                update = agent.observe(device, day, used)
                if update is None:
                    repeated.append(device)
                    continue
                learned.append(device)
                diagnostics[device] = {"js_step": update.js_step, "js_prior": update.js_prior,
                                       "entropy": update.entropy, "top_shift": update.top_shift, "n": update.n,
                                       "lr": update.lr}
            return {d: agent.pmf(d, day).tolist() for d in vectors}

        pmfs = service.learn(observe)  # durable before the response; undone if it cannot be saved
        return {"building_id": service.building.id, "date": str(day), "day_type": day_type(day), "learned": learned,
                "already_learned": repeated, "diagnostics": diagnostics, "pmfs": pmfs}

    @app.get("/buildings/{building}/pmf")
    def pmf(building: str) -> dict:
        service = services.get(building)
        agent = service.require_agent()
        flexible = service.building.usage_devices()
        return {"building_id": service.building.id,
                "pmfs": {d: {t: agent.pmf_of(d, t).tolist() for t in DAY_TYPES} for d in flexible},
                "updates": {d: sum(agent.counts.get((d, t), 0) for t in DAY_TYPES) for d in flexible}}

    return app


def _indicator(where: str, values: Any) -> np.ndarray:
    if not isinstance(values, list) or len(values) != HOURS:
        got = len(values) if isinstance(values, list) else type(values).__name__
        raise RequestError(f"{where}: has {got} values, expected {HOURS} (one per local hour)")
    for i, v in enumerate(values):
        if isinstance(v, bool) or v not in (0, 1) or (isinstance(v, float) and math.isnan(v)):
            raise RequestError(f"{where}[{i}]={v!r}: expected 0 or 1")
    return np.asarray(values, dtype=float)
