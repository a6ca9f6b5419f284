"""Hydra callbacks: prepare shared state before any job or sweep starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class PrepareOutputs(Callback):
    """Create ``paths.output_dir`` before a run or sweep, so that file-backed
    stores under it (the Optuna sqlite study, the DuckDB file) can be opened."""

    def _prepare(self, config: DictConfig) -> None:
        Path(config.paths.output_dir).mkdir(parents=True, exist_ok=True)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._prepare(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._prepare(config)
