"""The web dashboard: FastAPI pages (Jinja2 templates) with Plotly charts over the project's own stores.

``python -m ems dashboard`` serves it alone; ``python -m ems serve`` mounts it at ``/ui`` beside the REST
service. FastAPI because the service already runs on it (one server, one process, the same tests), Jinja2
for the pages, Plotly for interactive charts whose plotly.js is served from the installed package (the
dashboard works offline and a browser test sees no network errors). Pages:

* ``/ui/`` runs, sweeps, evaluation reports, PMF states, MLflow runs;
* ``/ui/run?path=`` a run's KPI table, one day's schedule against the price (``day=``), daily cost and
  cumulative savings, a compare run's modes side by side (``label=`` picks one), its learner's PMFs; a
  community run's table and each building's cost alone and jointly;
* ``/ui/sweep?path=`` a sweep's jobs, the objective over two swept keys (heatmap), the Pareto front;
* ``/ui/pmf/<building>`` the service's PMFs and their evolution; ``/ui/mlflow`` the tracked runs;
* ``/ui/files/<path>`` any file under the output folder (the evaluation report and its plots).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from ems import __version__
from ems.dashboard import charts, stores
from ems.experiment.summary import MAXIMIZED, ROWS, formatted

PLOTLY_JS = Path(__import__("plotly").__file__).parent / "package_data" / "plotly.min.js"

_templates = Environment(loader=PackageLoader("ems.dashboard", "templates"), autoescape=select_autoescape())


def kpi_rows(totals: dict[str, float]) -> list[tuple[str, str, str]]:
    """(key, label with unit, formatted value) of every KPI the run reports, in the summary table's order."""
    return [(key, f"{label} {unit}".strip(), formatted(totals.get(key), fmt)) for key, label, unit, fmt in ROWS
            if key in totals]


def _page(name: str, **context) -> HTMLResponse:
    figures = context.pop("figures", {})
    payload = "{" + ",".join(f'"{k}": {fig.to_json()}' for k, fig in figures.items()) + "}"
    html = _templates.get_template(name).render(figures=list(figures), figures_json=payload.replace("</", "<\\/"),
                                                version=__version__, **context)
    return HTMLResponse(html)


def dashboard_router(output_dir: Path, tracking_uri: str) -> APIRouter:
    """The dashboard's routes over ``output_dir`` (runs, sweeps, reports, service state) and ``tracking_uri``."""
    root = Path(output_dir)
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        runs = stores.list_runs(root) if root.is_dir() else []
        return _page("index.html", title="ems dashboard", runs=runs,
                     sweeps=[str(p.relative_to(root.resolve())) for p in stores.list_sweeps(root)],
                     reports=[str(p.relative_to(root.resolve())) for p in stores.list_reports(root)],
                     states=stores.pmf_states(root), output_dir=str(root))

    @router.get("/run", response_class=HTMLResponse)
    def run(path: str, label: str | None = None, day: str | None = None) -> HTMLResponse:
        r = stores.load_run(root, path)
        table = r.community
        if not table.is_empty():  # experiment=community: alone and joint, per building
            from ems.experiment.community import COLUMNS

            rows = [(row["building"], [formatted(row.get(k), fmt) for k, _, fmt in COLUMNS])
                    for row in table.iter_rows(named=True)]
            figures = {"community": charts.community(table, "each building's cost alone and in the community")}
            return _page("community.html", title=f"community run {path}", run=r, headers=[c[1] for c in COLUMNS],
                         rows=rows, summary=stores.summary_of(r.folder), figures=figures)
        label, folder, totals = stores.part(r, label)
        figures, columns = {}, {}
        if r.labels:
            columns = {k: stores.summary_of(f).get("totals", {}) for k, f in r.labels.items()}
            figures["comparison"] = charts.comparison(columns, "modes compared: energy cost and savings")
        days, chosen, steps = stores.schedule(folder, day)
        if not steps.is_empty():
            figures["schedule"] = charts.schedule(steps, f"{r.building} {chosen}: schedule against the price")
        per_day = stores.daily(folder)
        if not per_day.is_empty():
            figures["daily"] = charts.daily_costs(per_day, "daily cost and cumulative savings")
        updates = stores.learner_updates(folder)
        for device in sorted(updates["device"].unique().to_list()) if not updates.is_empty() else []:
            rows = updates.filter(pl.col("device") == device, pl.col("day_type") == "weekday").sort("day")
            if not rows.is_empty():
                figures[f"pmf_{device}"] = charts.heatmap(np.array(rows["after"].to_list()),
                                                          rows["day"].cast(pl.String).to_list(),
                                                          f"{device}: PMF after each weekday update", y_title="day")
        final = stores.learner_pmfs(folder)
        if not final.is_empty():
            rows = final.sort("device", "day_type", "hour").group_by("device", "day_type", maintain_order=True)
            labels, z = zip(*((f"{d} {t}", g["p"].to_list()) for (d, t), g in rows))
            figures["pmf_final"] = charts.heatmap(np.array(z), list(labels), "the learner's final PMFs")
        comparison = {key: (f"{name} {unit}".strip(), [formatted(c.get(key), fmt) for c in columns.values()])
                      for key, name, unit, fmt in ROWS if any(key in c for c in columns.values())}
        return _page("run.html", title=f"run {path}", run=r, label=label, totals=totals, kpis=kpi_rows(totals),
                     days=days, day=chosen, n_days=per_day.height, figures=figures, columns=list(columns),
                     comparison=comparison)

    @router.get("/sweep", response_class=HTMLResponse)
    def sweep(path: str, x: str | None = None, y: str | None = None) -> HTMLResponse:
        s = stores.load_sweep(root, path)
        keys = list(dict.fromkeys(k for j in s.jobs for k in j["overrides"]))
        swept = [k for k in keys if len({j["overrides"].get(k) for j in s.jobs}) > 1]
        figures = {}
        if len(s.objectives) >= 2:
            a, b = s.objectives[:2]
            figures["pareto"] = charts.pareto(s.jobs, a, b, (a in MAXIMIZED, b in MAXIMIZED))
        complete = [j for j in s.jobs if all(k in j["overrides"] for k in swept[:2])]
        if len(swept) >= 2 and complete:
            x, y = (x if x in swept else swept[0]), (y if y in swept else swept[1])
            figures["heatmap"] = charts.sweep_heatmap(complete, x, y, s.objectives[0])
        return _page("sweep.html", title=f"sweep {path}", sweep=s, swept=swept, figures=figures)

    @router.get("/pmf/{building}", response_class=HTMLResponse)
    def pmf(building: str, device: str | None = None) -> HTMLResponse:
        state, updates = stores.pmf_state(root, building)
        figures = {}
        if not state.is_empty():
            labels = [f"{d} {t}" for d, t in zip(state["device"], state["day_type"])]
            figures["state"] = charts.heatmap(np.array(state["pmf"].to_list()), labels,
                                              f"{building}: current PMFs (service state)")
        devices = sorted(updates["device"].unique().to_list()) if not updates.is_empty() else []
        device = device if device in devices else (devices[0] if devices else None)
        if device is not None:
            rows = updates.filter(pl.col("device") == device).sort("day")
            figures["evolution"] = charts.heatmap(np.array(rows["after"].to_list()),
                                                  [f"{d} {t}" for d, t in zip(rows["day"].cast(pl.String),
                                                                              rows["day_type"])],
                                                  f"{device}: PMF after each update", y_title="day")
        return _page("pmf.html", title=f"PMFs {building}", building=building, devices=devices, device=device,
                     updates=updates.height, figures=figures)

    @router.get("/mlflow", response_class=HTMLResponse)
    def mlflow() -> HTMLResponse:
        return _page("mlflow.html", title="MLflow runs", rows=stores.mlflow_runs(tracking_uri), uri=tracking_uri)

    @router.get("/files/{relative:path}")
    def files(relative: str) -> FileResponse:
        path = stores.inside(root, relative)
        if not path.is_file():
            raise stores.NotFound(f"{relative}: not a file")
        return FileResponse(path)

    @router.get("/static/plotly.min.js")
    def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="application/javascript")

    return router


def add_dashboard(app: FastAPI, output_dir: Path, tracking_uri: str, prefix: str = "/ui") -> FastAPI:
    """Mount the dashboard on ``app`` at ``prefix``; a path it has no data for is a 404 naming it."""
    app.include_router(dashboard_router(output_dir, tracking_uri), prefix=prefix, include_in_schema=False)  # pages

    @app.exception_handler(stores.NotFound)
    async def not_found(request: Request, exc: stores.NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    return app


def create_dashboard(output_dir: Path, tracking_uri: str) -> FastAPI:
    """The dashboard alone (``python -m ems dashboard``); ``/`` redirects to ``/ui/``."""
    app = FastAPI(title="ems dashboard", version=__version__)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/")

    return add_dashboard(app, output_dir, tracking_uri)
