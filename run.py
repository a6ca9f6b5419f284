"""Run one ems experiment (or a sweep with -m). All logic lives in the ems package."""

import sys

import hydra
from omegaconf import DictConfig

from ems.experiment.entry import run_job, warm_up


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float:
    return run_job(cfg)


if __name__ == "__main__":
    warm_up(sys.argv[1:])  # the recorder's helpers import MLflow while Hydra composes the config
    main()
