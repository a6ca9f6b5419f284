"""Experiments: replaying real days, scheduling them with a mode, settling at a tariff."""
