"""The sweeper's structured configs, registered with Hydra's ConfigStore on import.

``hydra/sweeper=optuna`` selects :class:`OptunaSweeperConf`; its ``sampler`` group
has ``tpe`` (the default), ``random``, ``cmaes``, ``nsgaii``, ``qmc``, ``grid`` and
``motpe`` (Optuna 4 removed MOTPESampler: TPESampler itself handles several
objectives, so ``motpe`` is TPE, kept for the configs that name it). Samplers are
partials: the sweeper adds the seed offset of a resumed study and the grid's
search space.
"""

# No ``from __future__ import annotations``: Hydra's plugin scan executes this module outside
# sys.modules, where dataclasses cannot resolve string annotations; OmegaConf reads the types.
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class SamplerConf:
    _target_: str = "optuna.samplers.TPESampler"
    _partial_: bool = True
    seed: Optional[int] = None  # with a seed a study is reproducible; a resumed study continues from seed + trials done


@dataclass
class TPESamplerConf(SamplerConf):
    n_startup_trials: int = 10  # random trials before TPE models the history
    multivariate: bool = False  # model the parameters jointly
    constant_liar: bool = False  # spread parallel trials of one batch apart


@dataclass
class RandomSamplerConf(SamplerConf):
    _target_: str = "optuna.samplers.RandomSampler"


@dataclass
class CmaEsSamplerConf(SamplerConf):
    _target_: str = "optuna.samplers.CmaEsSampler"
    n_startup_trials: int = 1


@dataclass
class NSGAIISamplerConf(SamplerConf):
    _target_: str = "optuna.samplers.NSGAIISampler"
    population_size: int = 50


@dataclass
class QMCSamplerConf(SamplerConf):
    _target_: str = "optuna.samplers.QMCSampler"
    qmc_type: str = "sobol"


@dataclass
class GridSamplerConf(SamplerConf):
    _target_: str = "optuna.samplers.GridSampler"  # every combination of the discrete params, once


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.ems_optuna_sweeper.sweeper.OptunaSweeper"
    defaults: List[Any] = field(default_factory=lambda: ["_self_", {"sampler": "tpe"}])  # the option after _self_
    sampler: Any = None
    direction: Any = "minimize"  # minimize | maximize, or a list of them for several objectives
    storage: Optional[str] = None  # e.g. sqlite:///outputs/optuna.db; None = in memory (no resume)
    study_name: Optional[str] = None  # the same name and storage resume the study
    n_trials: int = 20  # trials this sweep adds
    n_jobs: int = 1  # trials asked for at once and handed to the launcher together
    max_failure_rate: float = 1.0  # stop when a batch's share of failed trials exceeds this (1.0 = never)
    params: Optional[Dict[str, str]] = None  # key: Hydra sweep syntax (interval(a, b), choice(...), a,b,c, range(...))


store = ConfigStore.instance()
store.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="ems_optuna_sweeper")
for name, conf in {"tpe": TPESamplerConf, "motpe": TPESamplerConf, "random": RandomSamplerConf,
                   "cmaes": CmaEsSamplerConf, "nsgaii": NSGAIISamplerConf, "qmc": QMCSamplerConf,
                   "grid": GridSamplerConf}.items():
    store.store(group="hydra/sweeper/sampler", name=name, node=conf, provider="ems_optuna_sweeper")
