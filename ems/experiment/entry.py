"""What ``run.py`` calls: run one Hydra job, turning bad input into a one-line error."""

from __future__ import annotations

import sys

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ems.data.errors import DataError
from ems.experiment.runner import run_experiment


def run_job(cfg: DictConfig) -> float:
    """Run the composed experiment in the Hydra job's output folder; return its objective."""
    output_dir = HydraConfig.get().runtime.output_dir if HydraConfig.initialized() else None
    try:
        return run_experiment(cfg, output_dir)
    except (DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
