"""The web dashboard in a real browser: headless Chromium from the Debian packages (``/usr/bin/chromium``,
installed by ``.ci/run``) driven by Playwright, against ``python -m ems dashboard`` on 127.0.0.1 over real
runs made here (a run with a learner, a compare run, a sweep, the service's PMF state, an evaluation
report). Each page's plotted data must equal the run's own files; any browser console error fails the test.
Screenshots go to ``outputs/screenshots/``."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml

from conftest import ROOT, Server, run_cli

CHROMIUM = Path("/usr/bin/chromium")
#: Flags for a root, offline machine (no sandbox, no background network, no GPU).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
SHOTS = ROOT / "outputs" / "screenshots"


def _run(*args: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def site(tmp_path_factory, shipped_db):
    """An output folder holding real runs of every kind the dashboard shows."""
    out = tmp_path_factory.mktemp("dashboard")
    shutil.copy(shipped_db, out / "ems.duckdb")
    base = [f"paths.output_dir={out}", "forecast=perfect"]
    _run("run.py", *base, "period.n_days=3", "prior=household", "learner=adaptive")
    _run("run.py", *base, "period.n_days=2", "learner=forgetting", "regret.enabled=false", "name=forgetting")
    _run("run.py", *base, "experiment=compare", "period.n_days=2", "compare.modes=[baseline,phases]",
         "compare.battery=[none,home]", "regret.enabled=false")
    _run("run.py", f"paths.output_dir={out}", "experiment=community", "buildings=[residential1,residential4]",
         "period.n_days=3")
    _run("run.py", "-m", *base, "period.n_days=2", "regret.enabled=false", "mode.w_prob=0,1", "theta=0.05,0.2",
         "objective=[energy_cost_eur,preference_satisfaction_pct]")
    _run("-m", "ems", "evaluate", "--quick", "--set", f"paths.output_dir={out}", "--set",
         "evaluation.sections=[performance]")
    service = Server([f"paths.output_dir={out}"])
    try:
        from ems.config import instantiate, load_config
        from ems.data.store import Store
        from ems.learning.usage import load_usage

        cfg = load_config([*base, "learner=adaptive"])
        with Store(cfg.data.db, cfg.data.timezone) as store:
            usage = load_usage(store, instantiate(cfg.building), date(2016, 3, 1), date(2016, 3, 31),
                               instantiate(cfg.learner.runs))
        day = sorted(usage.learnable_days["washing_machine"])[3]
        used = usage.indicator("washing_machine", day).astype(int).tolist()  # a real day of the meter
        status, body = service.call("POST", "/learn", {"mode": "learn", "building_id": "DE_KN_residential4",
                                                       "date": str(day),
                                                       "actual_usage": {"DE_KN_residential4_washing_machine": used}})
        assert status == 200, body
        assert service.status("/ui/") == 200  # `ems serve` mounts the dashboard at /ui
    finally:
        service.stop()
    return out


@pytest.fixture(scope="module")
def dashboard(site):
    server = Server([f"paths.output_dir={site}"], command="dashboard", ready="/ui/")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.is_file(), f"{CHROMIUM}: the browser tests need Debian's chromium (apt-get install chromium)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def visit(browser, dashboard):
    """Open a dashboard page, wait until its charts are drawn, fail on any console error, save a screenshot."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def go(path: str, shot: str):
        response = page.goto(dashboard.url + path)
        assert response.status == 200, path
        page.wait_for_function("window.emsDone === true", timeout=30_000)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
        assert errors == [], errors
        return page

    go.errors = errors
    yield go
    page.close()


def _figure(page, key: str) -> dict:
    return page.evaluate(f"(() => {{ const d = document.getElementById('fig-{key}');"
                         f" return {{data: d.data, layout: {{title: d.layout.title}}}}; }})()")


def _runs(site: Path, kind: str) -> list[Path]:
    return sorted(p for p in (site / kind).rglob("*") if (p / ".hydra").is_dir())


def test_index_lists_every_run_sweep_report_and_state(visit, site):
    page = visit("/ui/", "index")
    links = page.locator("#runs tbody a").all_inner_texts()
    expected = [str(p.relative_to(site)) for p in [*_runs(site, "runs"), *_runs(site, "multiruns")]
                if (p / "summary.json").is_file() or p.parent.name == "compare"]
    assert sorted(links) == sorted(expected) and len(links) == 4 + 4
    assert len(page.locator("#reports li").all()) == 1
    assert page.locator("a[href='/ui/pmf/residential4']").count() == 1


def test_run_page_plots_the_runs_own_numbers(visit, site):
    folder = next(p for p in _runs(site, "runs") if p.parent.name == "default")
    totals = json.loads((folder / "summary.json").read_text())["totals"]
    daily = pl.read_csv(folder / "daily.csv")
    steps = pl.read_parquet(folder / "schedules.parquet").with_columns(pl.col("local_date").cast(pl.String))
    page = visit(f"/ui/run?path={folder.relative_to(site)}", "run")
    assert page.inner_text("#kpi-energy_cost_eur") == f"{totals['energy_cost_eur']:.2f}"
    assert page.inner_text("#kpi-savings_eur") == f"{totals['savings_eur']:.2f}"
    assert int(page.inner_text("#n-days")) == daily.height == 3
    costs = _figure(page, "daily")["data"][0]
    assert len(costs["x"]) == daily.height
    assert sum(costs["y"]) == pytest.approx(totals["energy_cost_eur"], abs=1e-9)
    for n, day in enumerate(steps["local_date"].unique(maintain_order=True).to_list()[:2]):
        if n:  # pick the next day in the page's own day picker
            with page.expect_navigation():
                page.select_option("#day", day)
            page.wait_for_function("window.emsDone === true")
        traces = {t["name"]: t for t in _figure(page, "schedule")["data"]}
        mine = steps.filter(pl.col("local_date") == day).sort("utc_hour")
        assert traces["base load"]["y"] == pytest.approx(mine["base_load_kw"].to_list())
        assert traces["import price EUR/kWh"]["y"] == pytest.approx(mine["import_price_eur_kwh"].to_list())
        assert traces["PV"]["y"] == pytest.approx(mine["pv_kw"].to_list())
    updates = pl.read_parquet(folder / "pmf_updates.parquet").filter(pl.col("day_type") == "weekday")
    assert page.locator("div[id^='fig-pmf_']").count() == updates["device"].n_unique() > 0


def test_run_page_shows_a_rule_learners_final_pmfs(visit, site):
    folder = next(p for p in _runs(site, "runs") if p.parent.name == "forgetting")
    final = pl.read_parquet(folder / "learner_pmfs.parquet")
    page = visit(f"/ui/run?path={folder.relative_to(site)}", "run_forgetting")
    z = _figure(page, "pmf_final")["data"][0]["z"]
    assert len(z) == final.select("device", "day_type").n_unique() and all(len(row) == 24 for row in z)
    first = final.sort("device", "day_type", "hour").head(24)["p"].to_list()
    assert z[0] == pytest.approx(first)


def test_compare_page_shows_each_mode(visit, site):
    folder = next(p for p in _runs(site, "runs") if p.parent.name == "compare")
    labels = sorted(str(p.parent.relative_to(folder)) for p in folder.rglob("summary.json"))
    page = visit(f"/ui/run?path={folder.relative_to(site)}", "compare")
    assert page.locator("#comparison-table thead th").all_inner_texts()[1:] == labels
    bars = _figure(page, "comparison")["data"][0]
    assert bars["x"] == labels
    costs = [json.loads((folder / label / "summary.json").read_text())["totals"]["energy_cost_eur"]
             for label in labels]
    assert bars["y"] == pytest.approx(costs)
    assert page.inner_text("#label") == labels[0]


def test_community_page_shows_each_building_alone_and_jointly(visit, site):
    folder = next(p for p in _runs(site, "runs") if p.parent.name == "community")
    table = pl.read_csv(folder / "community.csv")
    page = visit(f"/ui/run?path={folder.relative_to(site)}", "community")
    assert page.locator("#community-table tbody td:first-child").all_inner_texts() == table["building"].to_list()
    bars = _figure(page, "community")["data"]
    members = table.filter(pl.col("building") != "community")
    assert bars[0]["x"] == ["residential1", "residential4"]
    assert bars[0]["y"] == pytest.approx(members["alone_total_eur"].to_list())
    assert bars[1]["y"] == pytest.approx(members["joint_total_eur"].to_list())
    assert int(page.inner_text("#n-days")) == pl.read_csv(folder / "daily.csv")["local_date"].n_unique()


def test_sweep_page_heatmap_and_pareto_front(visit, site):
    sweep = next((site / "multiruns").glob("*/*"))
    jobs = sorted((p for p in sweep.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    page = visit(f"/ui/sweep?path={sweep.relative_to(site)}", "sweep")
    assert page.locator("#jobs tbody tr").count() == len(jobs) == 4
    totals = [json.loads((j / "summary.json").read_text())["totals"] for j in jobs]
    pareto = _figure(page, "pareto")["data"]
    assert sorted(pareto[0]["x"]) == pytest.approx(sorted(t["energy_cost_eur"] for t in totals))
    assert 1 <= len(pareto[1]["x"]) <= len(jobs)
    heat = _figure(page, "heatmap")["data"][0]
    overrides = [dict(o.split("=", 1) for o in yaml.safe_load((j / ".hydra" / "overrides.yaml").read_text()))
                 for j in jobs]
    for o, t in zip(overrides, totals):
        row, col = heat["y"].index(o[heat_key(heat, overrides, "y")]), heat["x"].index(o[heat_key(heat, overrides, "x")])
        assert heat["z"][row][col] == pytest.approx(t["energy_cost_eur"])


def heat_key(heat: dict, overrides: list[dict], axis: str) -> str:
    """The swept key whose values are the heatmap's ``axis`` labels."""
    return next(k for k in overrides[0] if sorted({o[k] for o in overrides}) == sorted(heat[axis]))


def test_pmf_page_shows_the_service_state(visit, site):
    import duckdb

    with duckdb.connect(str(site / "service" / "residential4_pmf.duckdb"), read_only=True) as con:
        n_pmfs = con.execute("SELECT count(*) FROM pmf_state").fetchone()[0]
        n_updates = con.execute("SELECT count(*) FROM pmf_updates").fetchone()[0]
    page = visit("/ui/pmf/residential4", "pmf")
    assert len(_figure(page, "state")["data"][0]["z"]) == n_pmfs
    assert len(_figure(page, "evolution")["data"][0]["z"]) == n_updates == 1


def test_mlflow_page_lists_the_tracked_runs(visit, site):
    from ems.mlflow_store import client

    tracked = client(f"sqlite:///{site}/mlflow.db")
    experiments = [e.experiment_id for e in tracked.search_experiments()]
    n_runs = len(tracked.search_runs(experiments, max_results=1000))
    page = visit("/ui/mlflow", "mlflow")
    assert page.locator("#mlflow-runs tbody tr").count() == n_runs > 0


def test_evaluation_report_is_served_with_its_plots(visit, site):
    page = visit("/ui/", "index_for_report")
    with page.expect_navigation():
        page.click("#reports a")
    page.wait_for_load_state("load")
    assert page.inner_text("h1") == "ems evaluation: the seed study's claims on real data"
    assert page.locator("img").count() == 1  # the performance section's plot
    assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=str(SHOTS / "evaluation_report.png"), full_page=True)
    assert visit.errors == []


def test_unknown_paths_are_404_naming_them(dashboard):
    assert dashboard.status("/ui/run?path=../../etc") == 404
    assert dashboard.status("/ui/run?path=runs/nothing") == 404
    assert dashboard.status("/ui/pmf/residential9") == 404


def test_odd_paths_are_404_not_500(dashboard):
    for path in ("/ui/run?path=%00", "/ui/run?path=" + "a" * 5000, "/ui/files/%00x", "/ui/sweep?path=runs",
                 "/ui/files/runs"):
        assert dashboard.status(path) == 404, path
