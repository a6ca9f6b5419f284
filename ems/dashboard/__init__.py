"""The web dashboard over runs, sweeps, evaluation reports, PMF state and MLflow (see :mod:`ems.dashboard.app`)."""
