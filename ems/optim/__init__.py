"""Optimisation: the day-ahead MILP and its solvers."""
