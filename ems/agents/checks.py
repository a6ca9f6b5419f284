"""Parameter checks shared by the agents: one-line errors naming the config key."""

from __future__ import annotations


def require_non_negative(obj: object, *names: str) -> None:
    prefix = type(obj).__name__.replace("Agent", "").lower()
    for name in names:
        value = getattr(obj, name)
        if not (isinstance(value, (int, float)) and value >= 0):
            raise ValueError(f"{prefix}.{name}={value!r} must be a non-negative number")


def require_efficiency(obj: object, *names: str) -> None:
    prefix = type(obj).__name__.replace("Agent", "").lower()
    for name in names:
        value = getattr(obj, name)
        if not (isinstance(value, (int, float)) and 0 < value <= 1):
            raise ValueError(f"{prefix}.{name}={value!r} must be in (0, 1]")
