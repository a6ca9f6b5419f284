"""A Hydra sweeper driving an Optuna study through ask/tell, jobs run by Hydra's configured launcher.

Each batch asks the study for ``n_jobs`` trials, turns their parameters into
Hydra overrides, launches them together (basic, joblib or Ray launcher) and
tells the study each job's return value: one float, or one per objective
with several ``direction`` s. A job that returns NaN (``run.py`` does for a
failed job) or raises is told as a failed trial; the sweep goes on unless a
batch's share of failures exceeds ``max_failure_rate``.

The search space is ``params`` in Hydra's sweep syntax plus any sweep given
on the command line: ``interval(a, b)`` (float; ``tag(int, interval(a, b))``
for whole numbers, ``tag(log, interval(a, b))`` for a log scale), ``choice(x, y)`` or
``x,y`` (categorical), ``range(a, b[, step])`` (int steps, or the listed
float values). A plain ``key=value`` is fixed for every trial.

With a ``storage`` and ``study_name`` the study is loaded if it exists and
the sweep adds ``n_trials`` to it; a seeded sampler then starts from
``seed + trials already in the study``, so a resumed sweep continues instead
of re-drawing the first run's parameters.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep, Transformer
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

import hydra_plugins.ems_optuna_sweeper.config as _registered  # noqa: F401 - registers hydra/sweeper=optuna

log = logging.getLogger(__name__)


def distribution(override: Override):
    """The Optuna distribution of a sweep override, or None for a plain value."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if not override.is_sweep_override():
        return None
    value = override.value()
    if isinstance(value, IntervalSweep):  # Hydra parses both ends as floats
        log_scale = "log" in value.tags
        if "int" in value.tags:
            return IntDistribution(int(value.start), int(value.end), log=log_scale)
        return FloatDistribution(float(value.start), float(value.end), log=log_scale)
    if isinstance(value, RangeSweep) and not value.shuffle and all(
            isinstance(v, int) for v in (value.start, value.stop, value.step)):
        last = value.start + ((value.stop - value.start - 1) // value.step) * value.step
        return IntDistribution(value.start, last, step=value.step)
    if isinstance(value, (ChoiceSweep, RangeSweep)):
        return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
    raise ValueError(f"{override.input_line}: the Optuna sweeper cannot search this sweep; use interval(a, b), "
                     f"choice(...), a,b,c or range(a, b)")


def search_space(arguments: Sequence[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """(distributions, fixed values) of the overrides ``arguments``."""
    distributions, fixed = {}, {}
    for override in OverridesParser.create().parse_overrides(list(arguments)):
        key = override.get_key_element()
        found = distribution(override)
        if found is None:
            fixed[key] = override.get_value_element_as_str()
            distributions.pop(key, None)
        else:
            distributions[key] = found
            fixed.pop(key, None)
    return distributions, fixed


class OptunaSweeper(Sweeper):
    """See the module docstring; the arguments are the keys of ``hydra/sweeper=optuna``."""

    def __init__(self, sampler: Any, direction: Any, storage: str | None, study_name: str | None, n_trials: int,
                 n_jobs: int, max_failure_rate: float, params: DictConfig | dict | None) -> None:
        if n_trials < 0 or n_jobs < 1 or not 0.0 <= max_failure_rate <= 1.0:
            raise ValueError(f"hydra.sweeper: need n_trials >= 0 (got {n_trials}), n_jobs >= 1 (got {n_jobs}) "
                             f"and max_failure_rate in [0, 1] (got {max_failure_rate})")
        if isinstance(sampler, DictConfig):  # Hydra hands plugins their nested configs as they are
            sampler = instantiate(sampler)
        self.sampler, self.storage, self.study_name = sampler, storage, study_name
        self.directions = [str(d) for d in direction] if isinstance(direction, (list, ListConfig)) else [str(direction)]
        self.n_trials, self.n_jobs, self.max_failure_rate = n_trials, n_jobs, max_failure_rate
        self.params = dict(OmegaConf.to_container(params) if isinstance(params, DictConfig) else (params or {}))
        self.launcher = None
        self.job_idx = 0

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def _sampler(self, distributions: dict[str, Any], done: int):
        """The sampler for this sweep: the grid gets its search space, a seeded one its offset."""
        from optuna.distributions import CategoricalDistribution, IntDistribution
        from optuna.samplers import GridSampler

        if not isinstance(self.sampler, functools.partial):
            return self.sampler
        kwargs = {}
        seed = self.sampler.keywords.get("seed")
        if seed is not None:
            kwargs["seed"] = int(seed) + done
        if self.sampler.func is GridSampler:
            grid = {}
            for key, d in distributions.items():
                if isinstance(d, CategoricalDistribution):
                    grid[key] = list(d.choices)
                elif isinstance(d, IntDistribution) and not d.log:
                    grid[key] = list(range(d.low, d.high + 1, d.step))
                else:
                    raise ValueError(f"hydra.sweeper.params.{key}: the grid sampler needs a discrete sweep "
                                     f"(choice, a,b,c or an int range), not a continuous interval")
            kwargs["search_space"] = grid
        return self.sampler(**kwargs)

    def sweep(self, arguments: list[str]) -> None:
        import optuna
        from optuna.trial import TrialState

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        distributions, fixed = search_space([f"{k}={v}" for k, v in self.params.items()] + list(arguments))
        if not distributions:
            raise ValueError("hydra.sweeper.params: nothing to search (give at least one sweep, e.g. "
                             "key=interval(0, 1))")
        study = optuna.create_study(study_name=self.study_name, storage=self.storage, directions=self.directions,
                                    load_if_exists=True)
        done = len(study.trials)
        study.sampler = self._sampler(distributions, done)
        log.info("study %s (%s), %d trials already, sampler %s, directions %s", study.study_name,
                 self.storage or "in memory", done, type(study.sampler).__name__, self.directions)
        remaining = self.n_trials
        while remaining > 0:
            batch = [study.ask(distributions) for _ in range(min(self.n_jobs, remaining))]
            overrides = [tuple(f"{k}={v}" for k, v in {**trial.params, **fixed}.items()) for trial in batch]
            returns = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            self.job_idx += len(returns)
            failed = 0
            for trial, ret in zip(batch, returns):
                values = self._values(ret)
                if values is None:
                    failed += 1
                    study.tell(trial, state=TrialState.FAIL)
                else:
                    study.tell(trial, values)
            remaining -= len(batch)
            if failed / len(batch) > self.max_failure_rate:
                raise RuntimeError(f"{failed} of {len(batch)} trials failed, more than hydra.sweeper."
                                   f"max_failure_rate={self.max_failure_rate}")
        self._report(study)

    def _values(self, ret) -> list[float] | None:
        """The job's objective values, or None when it failed (raised, NaN, or the wrong number of values)."""
        try:
            value = ret.return_value
        except Exception as exc:  # noqa: BLE001 - the launcher re-raises the job's exception here
            log.warning("trial failed: %s", exc)
            return None
        values = list(value) if isinstance(value, (list, tuple, ListConfig)) else [value]
        try:
            values = [float(v) for v in values]
        except (TypeError, ValueError):
            log.warning("trial returned %r: not %d number(s)", value, len(self.directions))
            return None
        if len(values) != len(self.directions) or not all(math.isfinite(v) for v in values):
            log.warning("trial returned %r for %d objective(s): counted as failed", value, len(self.directions))
            return None
        return values

    def _report(self, study) -> None:
        complete = [t for t in study.trials if t.values is not None]
        if not complete:
            log.warning("no trial of study %s completed", study.study_name)
            return
        if len(self.directions) == 1:
            best = study.best_trial
            log.info("Best parameters: %s", best.params)
            log.info("Best value: %s", best.value)
        else:
            log.info("Pareto front: %d of %d completed trials", len(study.best_trials), len(complete))
            for trial in study.best_trials:
                log.info("  trial %d: values %s, parameters %s", trial.number, trial.values, trial.params)
