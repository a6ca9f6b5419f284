"""``python -m ems package``: the optimiser as an MLflow pyfunc model.

The model carries one building's config, typical profiles and current PMFs as
artifacts, so ``mlflow.pyfunc.load_model(uri).predict(df)`` (or ``mlflow
models serve``) needs no database: each input row (building_id, date, prices
[EUR/kWh per local hour], battery_enabled, ev_enabled) is expanded like the
service's short request, optimised and validated; the output row holds the
status, energy cost and the whole result as JSON.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402
import pandas as pd  # noqa: E402

from ems.learning.priors import DayTypePmfs  # noqa: E402

COLUMNS = ["building_id", "date", "prices", "battery_enabled", "ev_enabled"]
#: What the packaged scheduler imports (ems itself travels as code): its requirements.txt pins
#: these to the versions installed when it was packaged.
SCHEDULER_PACKAGES = ("mlflow", "numpy", "pandas", "polars", "pyarrow", "pydantic", "highspy", "pulp", "omegaconf")


def scheduler_requirements() -> list[str]:
    """``name==version`` of every package the scheduler model imports, as installed here."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in SCHEDULER_PACKAGES]


class SchedulerModel(mlflow.pyfunc.PythonModel):
    """Schedules request rows for the packaged building."""

    def load_context(self, context) -> None:
        with open(context.artifacts["service"], "rb") as handle:
            self.service = pickle.load(handle)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from ems.optim.optimize import optimize_day
        from ems.optim.request import RequestError
        from ems.service.expand import expand

        building, profile, pmfs, settings = (self.service[k] for k in ("building", "profile", "pmfs", "settings"))
        rows = []
        for row in model_input.to_dict("records"):
            body = {"building_id": row["building_id"], "target_date": str(row["date"])[:10],
                    "price_profile": [float(p) for p in row["prices"]],
                    "battery_enabled": bool(row.get("battery_enabled", False)),
                    "ev_enabled": bool(row.get("ev_enabled", False))}
            try:
                result = optimize_day(expand(body, building, profile, pmfs, settings))
                rows.append({"building_id": row["building_id"], "date": body["target_date"], "status": result.status,
                             "energy_cost_eur": result.energy_cost_eur, "result": json.dumps(result.to_dict())})
            except RequestError as exc:
                rows.append({"building_id": row["building_id"], "date": body["target_date"], "status": "invalid",
                             "energy_cost_eur": None, "result": json.dumps({"detail": str(exc)})})
        return pd.DataFrame(rows)


class FixedPMFs(DayTypePmfs):
    """The PMFs frozen at packaging time (device, day type) -> 24 values."""

    def __init__(self, pmfs: dict):
        self.pmfs = pmfs

    def pmf_of(self, device: str, day_type: str):
        import numpy as np

        return np.asarray(self.pmfs.get(f"{device}/{day_type}", [1 / 24] * 24))


def package(service, settings, tracking_uri: str, experiment: str, artifact_root: str, example: pd.DataFrame) -> str:
    """Log the building's scheduler as a pyfunc model, register it as ``{building}_scheduler``; return its URI."""
    from ems.learning.priors import DAY_TYPES

    building = service.building
    flexible = building.usage_devices()
    agent = service.require_agent()
    pmfs = FixedPMFs({f"{d}/{t}": agent.pmf_of(d, t).tolist() for d in flexible for t in DAY_TYPES})
    from ems.mlflow_store import client, ensure_experiment

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment_id=ensure_experiment(client(tracking_uri), experiment, artifact_root))
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(run_name=f"{building.id}_scheduler"):
        path = Path(tmp) / "service.pkl"
        path.write_bytes(pickle.dumps({"building": building, "profile": service.profile, "pmfs": pmfs,
                                       "settings": settings}))
        model = SchedulerModel()
        info = mlflow.pyfunc.log_model(name="scheduler", python_model=model, artifacts={"service": str(path)},
                                       input_example=example, registered_model_name=f"{building.id}_scheduler",
                                       code_paths=[str(Path(__file__).resolve().parents[1])],
                                       pip_requirements=scheduler_requirements())
    return info.model_uri
