"""ems's Hydra sweeper on Optuna >= 4 (ask/tell), registered as ``hydra/sweeper=optuna``.

Every released hydra-optuna-sweeper pins ``optuna<3``, which pins SQLAlchemy 1.x,
which MLflow 3's UI and server cannot run on. This plugin keeps that sweeper's
YAML keys (``sampler``, ``direction``, ``storage``, ``study_name``, ``n_trials``,
``n_jobs``, ``max_failure_rate``, ``params`` in Hydra's sweep syntax) on current
Optuna and Hydra's launchers.
"""
