"""Agents: plain classes built from config (``_target_``), holding parameters and constraints."""
