"""What ``run.py`` calls: run one Hydra job, turning bad input into a one-line error.

In a multirun a failing job is reported (log line, ``FAILED`` file in its
output folder, FAILED MLflow run) and returns NaN, so the sweep goes on
(Optuna records a NaN objective as a failed trial).
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from ems.data.errors import DataError
from ems.experiment.callbacks import parent_run_id
from ems.experiment.runner import run_experiment

log = logging.getLogger(__name__)


#: run.py options that only print or spread jobs elsewhere: no recorder helpers for them.
NO_HELPERS = ("-m", "--multirun", "--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "--shell-completion")


def warm_up(argv: list[str]) -> None:
    """Before Hydra composes the config: start the recorder's helpers so that MLflow and
    matplotlib are imported by the time a short replay ends (not for printing or multirun
    commands, whose jobs may run in other processes)."""
    if any(arg in NO_HELPERS for arg in argv):
        return
    from ems.experiment.recorder import prestart

    prestart(tracking=not any(arg.startswith("tracking.enabled=") and arg.split("=", 1)[1].lower() in
                              ("false", "0", "no", "off") for arg in argv))


def run_job(cfg: DictConfig) -> float | list[float]:
    """Run the composed experiment in the Hydra job's output folder; return its objective."""
    hydra = HydraConfig.get() if HydraConfig.initialized() else None
    output_dir = hydra.runtime.output_dir if hydra is not None else None
    multirun = hydra is not None and hydra.mode == RunMode.MULTIRUN
    try:
        parent = parent_run_id(Path(hydra.sweep.dir)) if multirun else None
        label = f"#{hydra.job.num} {hydra.job.override_dirname}" if multirun else None
        if cfg.get("community") is not None:  # experiment=community: the buildings alone and as one community
            from ems.experiment.community import run_community

            return run_community(cfg, output_dir)
        return run_experiment(cfg, output_dir, parent, label)
    except (DataError, ValueError) as exc:
        if multirun:
            return _failed(cfg, output_dir, f"{exc}")
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:  # noqa: BLE001 - a sweep must survive one broken job
        if not multirun:
            raise
        return _failed(cfg, output_dir, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")


def _failed(cfg: DictConfig, output_dir: str | None, message: str) -> float | list[float]:
    log.error("job failed: %s", message.splitlines()[0])
    if output_dir is not None:
        Path(output_dir, "FAILED").write_text(message + "\n")
    nan = float("nan")
    return nan if isinstance(cfg.objective, str) else [nan] * len(cfg.objective)
