"""``python -m ems``: data ingest and inspection (later: optimize, serve, report).

Settings come from the same Hydra config as ``run.py``; ``--set key=value``
overrides any config key (e.g. ``--set paths.db=/tmp/x.duckdb``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path

from ems.data.errors import DataError

log = logging.getLogger("ems")


def load_config(overrides: list[str]):
    """The composed Hydra config (imported on use: ``optimize`` never needs Hydra)."""
    from ems.config import load_config as compose

    return compose(overrides)


#: Exit codes of every subcommand (NO_SOLUTION: optimize found no schedule within its time limit).
OK, INFEASIBLE, BAD_INPUT, INTERNAL, NO_SOLUTION = 0, 1, 2, 3, 4


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand: exit 0 done, 1 infeasible (optimize), 2 bad input (one line naming the file,
    field or key), 3 internal error (one line; ``--debug`` adds the traceback)."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except (DataError, ValueError, LookupError) as exc:  # LookupError: e.g. an unknown building id
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback on request
        if args.debug:
            traceback.print_exc()
        print(f"error: internal error in {args.command}: {type(exc).__name__}: {exc} "
              f"(rerun with --debug for the traceback)", file=sys.stderr)
        return INTERNAL


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ems", description=__doc__.splitlines()[0],
                                     epilog="exit codes: 0 done, 1 infeasible, 2 bad input, 3 internal error, "
                                            "4 no schedule within the time limit (optimize)")
    parser.add_argument("--debug", action="store_true", help="debug logging, and the traceback of an internal error")
    commands = parser.add_subparsers(dest="command", required=True)
    data = commands.add_parser("data", help="build and inspect the DuckDB store")
    data_cmds = data.add_subparsers(dest="data_command", required=True)

    ingest = data_cmds.add_parser("ingest", help="ingest OPSD household, price and weather CSVs (default: shipped data)")
    ingest.add_argument("paths", nargs="*", type=Path, help="CSV files (.csv or .csv.gz); none = the shipped data")
    ingest.add_argument("--db", type=Path, help="database file (default: config paths.db)")
    ingest.add_argument("--download", action="store_true", help="fetch the full OPSD household_data file first")
    ingest.add_argument("--url", help="download URL (default: config data.download.url)")
    ingest.add_argument("--sha256", help="expected SHA-256 of the download (default: config data.download.sha256)")
    ingest.add_argument("--force", action="store_true",
                        help="replace a building even if it loses more readings than data.ingest.max_drop_share")
    ingest.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ingest.set_defaults(handler=_ingest)

    optimize = commands.add_parser("optimize", help="schedule one day from a day-request JSON file")
    optimize.add_argument("request", type=Path, help="day request JSON (see README)")
    optimize.add_argument("--out", type=Path, help="write the result JSON here (default: stdout)")
    optimize.add_argument("--max-steps", type=int, default=None, metavar="N",
                          help="refuse requests with more horizon steps (default: 1000)")
    optimize.set_defaults(handler=_optimize)

    train = commands.add_parser("train", help="train, evaluate and register the usage models of a building")
    train.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. building=residential4")
    train.set_defaults(handler=_train)

    serve = commands.add_parser("serve", help="run the REST service (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    serve.set_defaults(handler=_serve)

    dashboard = commands.add_parser("dashboard", help="the web dashboard over runs, sweeps, reports, PMF state and "
                                                      "MLflow (also at /ui of `serve`)")
    dashboard.add_argument("--host", default="127.0.0.1")
    dashboard.add_argument("--port", type=int, default=8050)
    dashboard.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    dashboard.set_defaults(handler=_dashboard)

    package = commands.add_parser("package", help="log a building's optimiser as an MLflow pyfunc model")
    package.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. building=residential3")
    package.set_defaults(handler=_package)

    report = commands.add_parser("report", help="compare the runs of an MLflow experiment (table and plots)")
    report.add_argument("experiment", nargs="?", help="MLflow experiment name (default: the config's name)")
    report.add_argument("--objective", default=None, help="KPI to rank by (default: the config's objective)")
    report.add_argument("--maximize", action="store_true", help="rank the highest objective first")
    report.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    report.set_defaults(handler=_report)

    cycles = commands.add_parser("cycles", help="typical cycles of the discrete-phase devices, from their real runs")
    cycles.add_argument("buildings", nargs="*", help="building ids (default: every building in the database)")
    cycles.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    cycles.set_defaults(handler=_cycles)

    bench = commands.add_parser("learning-benchmark",
                                help="score every usage learner on held-out days, every device of every building")
    bench.add_argument("buildings", nargs="*", help="building ids (default: every building in the database)")
    bench.add_argument("--train-days", type=int, default=60, help="days learned before scoring starts (default 60)")
    bench.add_argument("--min-events", type=int, default=30,
                       help="a device needs this many held-out events for its verdict (default 30)")
    bench.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    bench.set_defaults(handler=_learning_benchmark)
    adapt = commands.add_parser("adaptation", help="days each usage learner needs to adapt: vacation, habit shift, "
                                                    "device replacement, season change")
    adapt.add_argument("buildings", nargs="*", help="building ids (default: every building in the database)")
    adapt.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    adapt.set_defaults(handler=_adaptation)
    evaluate = commands.add_parser("evaluate", help="the seed study's evaluation on the shipped data: report.md and "
                                                    "report.html in outputs/evaluation/<timestamp>_<name>/")
    evaluate.add_argument("--quick", action="store_true", help="two buildings, a few weeks (evaluation=quick)")
    evaluate.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                          help="config overrides; evaluation.* keys change the evaluation, the rest every run")
    evaluate.set_defaults(handler=_evaluate)
    info = data_cmds.add_parser("info", help="buildings, devices and row counts of the database")
    info.add_argument("--db", type=Path)
    info.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    info.set_defaults(handler=_info)
    return parser


def _ingest(args: argparse.Namespace) -> int:
    from ems.data.download import download
    from ems.data.ingest import ingest, shipped_paths

    cfg = load_config(args.overrides)
    paths = list(args.paths)
    if args.download:
        dl = cfg.data.download
        paths.append(download(args.url or dl.url, args.sha256 or dl.sha256, Path(dl.dest_dir), dl.timeout_s))
    report = ingest(paths or shipped_paths(cfg.data), cfg.data, db=args.db, force=args.force)
    print(report.summary())
    return 0


def _optimize(args: argparse.Namespace) -> int:
    """Exit 0 with a schedule, 1 when infeasible (the result JSON carries the diagnosis), 2 for a bad
    request, 4 when the solver found no schedule within the request's time limit."""
    import json

    from ems.optim.optimize import optimize_day
    from ems.optim.request import DEFAULT_MAX_STEPS, RequestError, parse_request

    try:
        data = json.loads(args.request.read_bytes())
    except (FileNotFoundError, IsADirectoryError):
        raise DataError(f"{args.request}: no such file") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, or an integer of over 4300 digits
        raise DataError(f"{args.request}: not valid JSON ({str(exc).splitlines()[0][:120]})") from None
    try:
        request = parse_request(data).check_horizon(args.max_steps or DEFAULT_MAX_STEPS)
    except RequestError as exc:
        raise DataError(f"{args.request}: {exc}") from None
    result = optimize_day(request)
    for line in result.warnings:
        print(f"warning: {args.request}: {line}", file=sys.stderr)
    text = json.dumps(result.to_dict(), indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    else:
        print(text)
    for line in result.diagnosis:
        print(f"{result.status}: {line}", file=sys.stderr)
    return OK if result.ok else INFEASIBLE if result.status == "infeasible" else NO_SOLUTION


def _run_settings(overrides: list[str]):
    """The usage-event rule's settings, as configured for the adaptive learner."""
    from ems.config import instantiate

    return instantiate(load_config(["learner=adaptive", *overrides]).learner.runs)


def _train(args: argparse.Namespace) -> int:
    from ems.config import instantiate
    from ems.data.store import Store
    from ems.data.ingest import ensure_database
    from ems.learning.train import report_table, train_building

    cfg = load_config(args.overrides)
    runs = _run_settings(args.overrides)
    building = instantiate(cfg.building)
    Path(cfg.paths.output_dir).mkdir(parents=True, exist_ok=True)
    with Store(ensure_database(cfg.data), cfg.data.timezone) as store:
        store.require_building(building.id, building.source_hint)
        reports = train_building(store, building, instantiate(cfg.predictor), runs, cfg.tracking.uri,
                                 cfg.models.experiment, cfg.models.alias, cfg.tracking.artifact_root)
    print(report_table(building.id, reports))
    for r in reports:
        if not r.skipped:
            for kind, what in r.champion.items():
                print(f"{r.device}: registered {building.id}_{r.device}_{kind}; alias {cfg.models.alias} {what}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ems.dashboard.app import add_dashboard
    from ems.data.ingest import ensure_database
    from ems.service.app import create_app
    from ems.service.state import service_overrides

    overrides = service_overrides(args.overrides)
    cfg = load_config(overrides)
    ensure_database(cfg.data)
    app = add_dashboard(create_app(cfg, overrides), Path(cfg.paths.output_dir), cfg.tracking.uri)  # at /ui
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    import uvicorn

    from ems.dashboard.app import create_dashboard

    cfg = load_config(args.overrides)
    print(f"ems dashboard on http://{args.host}:{args.port}/ui/ over {cfg.paths.output_dir}")
    uvicorn.run(create_dashboard(Path(cfg.paths.output_dir), cfg.tracking.uri), host=args.host, port=args.port,
                log_level="warning")
    return 0


def _package(args: argparse.Namespace) -> int:
    import pandas as pd

    from ems.data.ingest import ensure_database
    from ems.service.pyfunc import package
    from ems.service.state import Services, service_overrides

    overrides = service_overrides(args.overrides)
    cfg = load_config(overrides)
    ensure_database(cfg.data)
    services = Services(cfg, overrides)
    service = services.get(cfg.building.id)
    example = pd.DataFrame([{"building_id": f"DE_KN_{cfg.building.id}", "date": "2016-06-08",
                             "prices": [0.3] * 24, "battery_enabled": True, "ev_enabled": False}])
    uri = package(service, services.settings, cfg.tracking.uri, cfg.models.experiment, cfg.tracking.artifact_root,
                  example)
    print(f"logged {uri}; registered as {cfg.building.id}_scheduler")
    return 0


def _report(args: argparse.Namespace) -> int:
    from ems.experiment.report import load_runs, run_objective, write_report
    from ems.experiment.summary import MAXIMIZED

    cfg = load_config(args.overrides)
    experiment = args.experiment or cfg.name
    runs = load_runs(cfg.tracking.uri, experiment)
    objective = args.objective or run_objective(runs)
    maximize = args.maximize or objective in MAXIMIZED
    out = Path(cfg.paths.output_dir) / "reports" / experiment
    for path in write_report(runs, experiment, objective, maximize, out):
        print(path)
    print((out / "runs.md").read_text())
    return 0


def _cycles(args: argparse.Namespace) -> int:
    from ems.learning.cycles import typical_cycles

    for building, usage in _usages(args):
        discrete = usage.events.filter(usage.events["device"].is_in(building.devices_of("discrete_phase")))
        for cycle in typical_cycles(discrete).values():
            print(f"{building.id:<13} {cycle.device:<16} {len(cycle.phases_kw)} h  phases_kw={cycle.phases_kw}  "
                  f"({cycle.runs} of {cycle.all_runs} runs)")
    return 0


def _learning_benchmark(args: argparse.Namespace) -> int:
    from ems.learning.benchmark import benchmark_device, table

    if args.train_days < 1:
        print(f"error: --train-days={args.train_days} must be >= 1", file=sys.stderr)
        return 2
    rows = []
    for building, usage in _usages(args):
        discrete = set(building.devices_of("discrete_phase"))
        for device in building.usage_devices():
            row = benchmark_device(usage, building.id, device, device in discrete, args.train_days)
            if row is not None:
                rows.append(row)
    print(table(rows, args.min_events))
    return 0


def _usages(args: argparse.Namespace):
    """(building, its usage over the whole record) of each of ``args.buildings`` (default: every one in the store)."""
    from ems.config import instantiate
    from ems.data.calendar import WHOLE_RECORD
    from ems.data.ingest import ensure_database
    from ems.data.store import Store
    from ems.learning.usage import load_usage

    cfg = load_config(args.overrides)
    runs = _run_settings(args.overrides)
    with Store(ensure_database(cfg.data), cfg.data.timezone) as store:
        for building_id in args.buildings or store.buildings():
            building = instantiate(load_config([f"building={building_id}", *args.overrides]).building)
            store.require_building(building.id, building.source_hint)
            yield building, load_usage(store, building, *WHOLE_RECORD, runs)


def _adaptation(args: argparse.Namespace) -> int:
    from ems.learning.adaptation import AdaptationSettings, change_days, days_to_adapt, table

    settings, rows = AdaptationSettings(), []
    for building, usage in _usages(args):
        for device in building.devices_of("discrete_phase"):
            for experiment, change in change_days(usage, device, settings).items():
                rows.append((building.id, device, experiment, days_to_adapt(usage, device, experiment, change,
                                                                            settings)))
    print(table(rows))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    """Exit 0 with the report written; 3 when some run failed (the report is written all the same)."""
    from ems.evaluation.pipeline import evaluate

    choice = "quick" if args.quick else "full"
    cfg = load_config([f"evaluation={choice}", *args.overrides])
    command = "python -m ems evaluate" + (" --quick" if args.quick else "") + \
        "".join(f" --set {o}" for o in args.overrides)
    result = evaluate(cfg, args.overrides, command)
    claims = next((line for line in result.report_md.read_text().split("\n## ")[1:2]), "")
    print(f"## {claims.strip()}\n")
    print(f"{result.report_md}\n{result.report_html}\n(wall time {result.seconds:.0f} s)")
    if result.failed:
        print(f"error: {len(result.failed)} evaluation runs failed: {', '.join(result.failed)} (see their job.log "
              f"under {result.folder / 'runs'})", file=sys.stderr)
        return INTERNAL
    return OK


def _info(args: argparse.Namespace) -> int:
    from ems.data.store import Store

    cfg = load_config(args.overrides)
    with Store(args.db or cfg.data.db, cfg.data.timezone) as store:
        print(f"{store.path}: " + ", ".join(f"{k} {v:,}" for k, v in store.table_counts().items()))
        summary = store.query(
            """SELECT building, count(*) AS devices, min(first_utc) AS first_utc, max(last_utc) AS last_utc,
                      string_agg(device || ':' || flex_model, ' ' ORDER BY device) AS flex_models
               FROM devices GROUP BY building ORDER BY building"""
        )
    for row in summary.iter_rows(named=True):
        print(f"{row['building']}: {row['devices']} devices, {row['first_utc']} .. {row['last_utc']} UTC; "
              f"{row['flex_models']}")
    return 0
