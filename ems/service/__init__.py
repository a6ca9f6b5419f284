"""The REST service (Pipeline D) and the MLflow pyfunc packaging of the optimiser."""
