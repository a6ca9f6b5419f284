"""``python -m ems evaluate --quick`` as a user runs it: every section, table and plot of the report, its
numbers equal to the runs' own summaries, the seed's claims beside them; bad settings are one line and
write nothing; the verdict, convergence and Pareto rules on hand-made cases."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
import yaml

from conftest import run_cli
from ems.dashboard.charts import pareto_front
from ems.evaluation.claims import SEED
from ems.evaluation.report import verdict
from ems.evaluation.settings import SECTIONS, Convergence
from ems.evaluation.usage_models import converged_after


@pytest.fixture(scope="module")
def quick(tmp_path_factory, shipped_db):
    out = shipped_db.parent
    result = run_cli("-m", "ems", "evaluate", "--quick", "--set", f"paths.output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    folders = sorted((out / "evaluation").glob("*_quick"))
    assert len(folders) == 1
    return folders[0], result


def test_report_has_every_section_table_and_plot(quick):
    folder, result = quick
    md, page = (folder / "report.md").read_text(), (folder / "report.html").read_text()
    assert str(folder / "report.md") in result.stdout and "## The seed's claims" in result.stdout
    titles = re.findall(r"^## (.+)$", md, flags=re.M)
    assert len(titles) == 1 + len(SECTIONS)  # the claims table, then one heading per section
    for key in SECTIONS:
        assert f"<h2 id='{key}'>" in page
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert {"savings.png", "methods.png", "pv.png", "prediction.png", "convergence.png", "performance.png",
            "sensitivity.png"} <= set(images)
    for image in images:
        data = (folder / image).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, image
        assert f"src='{image}'" in page
    for claim in SEED.values():  # every claim of the seed is in the claims table with a verdict
        row = next(line for line in md.splitlines() if claim in line)
        assert re.search(r"\| (agrees|contradicts: .+|partly: .+|not measured) \|$", row), row
    assert "n/a" not in md.split("## The seed's claims")[1].split("\n## ")[0]


def test_report_numbers_are_the_runs_own(quick):
    folder, _ = quick
    md = (folder / "report.md").read_text()
    settings = yaml.safe_load((folder / "evaluation.yaml").read_text())
    rows = [line for line in md.splitlines() if line.startswith("| residential")]
    for building in settings["buildings"]:
        for key, variant in settings["scenarios"].items():
            run = folder / "runs" / "savings" / building / key
            totals = json.loads((run / "summary.json").read_text())["totals"]
            config = yaml.safe_load((run / "config.yaml").read_text())
            assert config["building"]["id"] == building and config["period"]["n_days"] == settings["year"]["n_days"]
            row = next(r for r in rows if r.startswith(f"| {building} | {variant['label']} |"))
            cells = [c.strip() for c in row.strip("|").split("|")]
            assert cells[3:7] == [f"{totals['baseline_cost_eur']:.2f}", f"{totals['energy_cost_eur']:.2f}",
                                  f"{totals['savings_eur']:.2f}", f"{totals['savings_pct']:.2f}"]
            assert cells[7] == f"{totals['bound_cost_eur']:.2f}"
            assert f"(runs/savings/{building}/{key}/config.yaml)" in md
    timings = json.loads((folder / "timings.json").read_text())
    ran = {str(p.parent.relative_to(folder / "runs")) for p in (folder / "runs").rglob("summary.json")}
    assert timings["total_s"] > 0 and set(timings["runs"]) == ran


def test_methods_and_sensitivity_change_the_outcome(quick):
    """The compared methods and the sensitivity knobs are really different runs: their costs differ."""
    folder, _ = quick
    cost = lambda p: json.loads((folder / "runs" / p / "summary.json").read_text())["totals"]["energy_cost_eur"]  # noqa: E731
    assert cost("methods/residential4/baseline") != cost("methods/residential4/deterministic")
    assert cost("sensitivity/battery_5") != cost("sensitivity/battery_10")
    assert cost("sensitivity/forecast_perfect") != cost("sensitivity/forecast_naive")


@pytest.mark.parametrize("override, message", [
    ("evaluation.buildings=[residential9]", "evaluation.buildings: 'residential9' has no building config"),
    ("evaluation.buildings=[industrial3]", "building industrial3: no readings in"),
    ("evaluation.sections=[bogus]", "evaluation.sections: 'bogus' is not a section"),
    ("evaluation.year.n_days=0", "evaluation.year.n_days=0: must be >= 1"),
    ("+evaluation.sectons=[savings]", "evaluation.sectons=['savings']: Extra inputs are not permitted"),
    ("mode.w_prob=-1", "evaluation job savings/residential1/cost_only"),
])
def test_bad_settings_are_one_line_and_write_nothing(shipped_db, override, message):
    out = shipped_db.parent
    before = sorted((out / "evaluation").glob("*")) if (out / "evaluation").is_dir() else []
    result = run_cli("-m", "ems", "evaluate", "--quick", "--set", f"paths.output_dir={out}", "--set", override)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr
    after = sorted((out / "evaluation").glob("*")) if (out / "evaluation").is_dir() else []
    assert after == before


def test_verdict_against_a_range_and_a_bound():
    assert verdict([12.0, 20.0, 38.0], 12, 38) == "agrees"
    assert verdict([1.0, 3.5], 12, 38) == "contradicts: all 2 measured values are below the seed's claim"
    assert verdict([40.0], 12, 38) == "contradicts: all 1 measured values are above the seed's claim"
    assert verdict([5.0, 20.0, float("nan"), 50.0], 12, 38) == \
        "partly: 1 of 3 measured values within the seed's claim, 1 below"
    assert verdict([90.0, float("inf")], 85) == "agrees"
    assert verdict([float("nan")], 0, 1) == "not measured"


def test_converged_after_counts_days_to_a_run_of_small_steps():
    from datetime import date, timedelta

    days = [date(2016, 1, 1) + timedelta(days=2 * i) for i in range(10)]  # every other day learnable
    steps = [0.5, 0.2, 0.005, 0.3, 0.004, 0.003, 0.002, 0.001, 0.2, 0.001]
    assert converged_after(days, steps, Convergence(threshold=0.01, hold_days=4)) == 8  # from the 5th day
    assert converged_after(days, steps, Convergence(threshold=0.01, hold_days=5)) is None
    assert converged_after(days, steps, Convergence(threshold=1.0, hold_days=10)) == 0
    assert converged_after(days, steps, Convergence(threshold=0.01, hold_days=4), first=date(2015, 12, 25)) == 15


def test_pareto_front_keeps_the_non_dominated_points():
    points = [(10.0, 50.0), (12.0, 80.0), (11.0, 40.0), (12.0, 70.0), (9.0, 30.0)]
    assert pareto_front(points, (False, True)) == [0, 1, 4]  # cost minimised, satisfaction maximised
    assert pareto_front(points, (False, False)) == [4]


def test_the_performance_section_reads_the_evaluating_store(tmp_path, shipped_db):
    """Its real days come from the store of the config the evaluation runs with, not the checkout's."""
    import shutil

    from ems.evaluation.performance import _house, real_request

    shutil.copy(shipped_db, tmp_path / "ems.duckdb")
    overrides = (f"paths.output_dir={tmp_path}",)
    assert _house("residential4", overrides)[0].data.db == str(tmp_path / "ems.duckdb")
    request = real_request("residential4", date(2016, 7, 12), n_devices=4, battery=False, ev=False,
                           overrides=overrides)
    assert request.n_steps == 24 and [d.name for d in request.devices] == [
        "heat_pump_1", "dishwasher", "washing_machine", "heat_pump_2"]
