"""``python -m ems evaluate``: every section's runs and computations, then ``report.md`` and ``report.html``
in ``<output_dir>/evaluation/<timestamp>_<name>/`` with their plots, each experiment run's folder (its exact
``config.yaml``, ``summary.json``, ``daily.csv``) under ``runs/``, and the evaluation's own config."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ems.config import config_dir, instantiate, override_key
from ems.data.ingest import ensure_database
from ems.evaluation import economics, performance, usage_models
from ems.evaluation.jobs import call_captured, check_jobs, common_overrides, run_jobs
from ems.evaluation.report import Section, write
from ems.evaluation.settings import SECTIONS, EvaluationSettings, check_sections

log = logging.getLogger(__name__)

#: section -> the experiment jobs it needs.
JOBS = {"savings": economics.savings_jobs, "methods": economics.methods_jobs, "pv": economics.pv_jobs,
        "sensitivity": economics.sensitivity_jobs}


@dataclass
class Evaluation:
    """Where the report is, how long it took and which runs failed."""

    folder: Path
    report_md: Path
    report_html: Path
    seconds: float
    failed: list[str]
    sections: list[Section]


def settings_of(cfg: DictConfig) -> EvaluationSettings:
    if cfg.get("evaluation") is None:
        raise ValueError("evaluation: no evaluation config (compose with evaluation=full or evaluation=quick)")
    settings = instantiate(cfg.evaluation, where="evaluation")
    check_sections(settings, sorted(p.stem for p in (config_dir() / "building").glob("*.yaml")))
    return settings


def evaluate(cfg: DictConfig, overrides: list[str], command: str) -> Evaluation:
    """Run the evaluation ``cfg.evaluation`` describes; ``overrides`` are the user's keys (those outside
    ``evaluation.`` reach every experiment run), ``command`` is what the report says produced it."""
    settings = settings_of(cfg)
    _require_data(cfg, settings)
    user = [o for o in overrides if not override_key(o).startswith("evaluation")]
    common = common_overrides(str(cfg.paths.output_dir), settings.track, settings.name, user)
    wanted = [s for s in SECTIONS if s in settings.sections]
    jobs = [job for section in wanted if section in JOBS for job in JOBS[section](settings)]
    check_jobs(jobs, common)  # every config composes and checks before anything runs
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out = Path(cfg.paths.output_dir) / "evaluation" / f"{stamp}_{settings.name}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.yaml").write_text(OmegaConf.to_yaml(cfg.evaluation, resolve=True))
    started = time.perf_counter()
    timings: dict[str, float] = {}
    results = run_jobs(jobs, out / "runs", common, settings.n_jobs)
    timings["experiment runs"] = time.perf_counter() - started
    computed = _learning(settings, wanted, user, out, timings)
    if "performance" in wanted:
        t0 = time.perf_counter()
        computed["performance"] = performance.measure(settings.performance, tuple(common))
        timings["performance"] = time.perf_counter() - t0
    sections = []
    for key in wanted:
        if key in JOBS:
            sections.append(getattr(economics, f"{key}_section")(settings, results, out))
        elif key == "prediction":
            sections.append(usage_models.prediction_section(computed["prediction"], out))
        elif key == "convergence":
            sections.append(usage_models.convergence_section(computed["convergence"], settings.convergence, out))
        elif key == "adaptation":
            sections.append(usage_models.adaptation_section(computed["adaptation"]))
        elif key == "performance":
            sections.append(performance.performance_section(settings.performance, computed["performance"], out))
    seconds = time.perf_counter() - started
    failed = sorted(name for name, r in results.items() if r.error)
    header = _header(settings, command, seconds, len(results), timings, failed)
    md, page = write(sections, header, out)
    (out / "timings.json").write_text(json.dumps({"total_s": seconds, **timings,
                                                  "runs": {n: r.seconds for n, r in results.items()}}, indent=2))
    return Evaluation(out, md, page, seconds, failed, sections)


def _require_data(cfg: DictConfig, settings: EvaluationSettings) -> None:
    """Every building the evaluation names has readings in the store (a DataError naming it, before anything runs)."""
    from ems.config import load_config
    from ems.data.store import Store

    named = {*settings.buildings, settings.sensitivity.building, settings.performance.building}
    with Store(ensure_database(cfg.data), cfg.data.timezone) as store:
        for building_id in sorted(named):
            building = instantiate(load_config([f"building={building_id}"]).building)
            store.require_building(building.id, building.source_hint)


def _learning(settings: EvaluationSettings, wanted: list[str], user: list[str], out: Path,
              timings: dict[str, float]) -> dict[str, list]:
    """Prediction, convergence and adaptation rows of every building (one process per building)."""
    from joblib import Parallel, delayed

    computed: dict[str, list] = {}
    parallel = Parallel(n_jobs=min(settings.n_jobs, len(settings.buildings)))
    if "prediction" in wanted:
        t0 = time.perf_counter()
        rows = parallel(delayed(call_captured)(out / "logs" / f"prediction_{b}.log", usage_models.prediction_rows,
                                               b, user) for b in settings.buildings)
        computed["prediction"] = [r for rs in rows for r in rs]
        timings["prediction"] = time.perf_counter() - t0
    if "convergence" in wanted or "adaptation" in wanted:
        t0 = time.perf_counter()
        pairs = parallel(delayed(call_captured)(out / "logs" / f"learning_{b}.log", usage_models.learning_rows, b,
                                                user, settings.convergence) for b in settings.buildings)
        computed["convergence"] = [r for c, _ in pairs for r in c]
        computed["adaptation"] = [r for _, a in pairs for r in a]
        timings["convergence and adaptation"] = time.perf_counter() - t0
    return computed


def _header(settings: EvaluationSettings, command: str, seconds: float, n_runs: int, timings: dict[str, float],
            failed: list[str]) -> list[str]:
    from ems.experiment.tracking import git_commit

    parts = ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
    lines = [f"Generated {datetime.now().isoformat(timespec='seconds')} by `{command}` (evaluation={settings.name}, "
             f"git commit {git_commit()}) on the shipped real data (data/README.md).",
             f"Wall time {seconds:.0f} s: {n_runs} experiment runs in {settings.n_jobs} processes; {parts}.",
             "Every experiment figure's exact config is `runs/<section>/<building>/<variant>/config.yaml` (linked "
             "under each section); the evaluation's own settings are `evaluation.yaml`. No figure is tuned to match "
             "the seed: where a measured figure contradicts its claim, the verdict says so."]
    if failed:
        lines.append(f"**{len(failed)} runs failed** (their cells read n/a): {', '.join(failed)}.")
    return lines
