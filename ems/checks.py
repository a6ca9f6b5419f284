"""Parameter checks shared by the agents: one-line errors naming the config key."""

from __future__ import annotations


def _prefix(obj: object) -> str:
    return type(obj).__name__.replace("Agent", "").lower()


def require_non_negative(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and value >= 0):
            raise ValueError(f"{_prefix(obj)}.{name}={value!r} must be a non-negative number")


def require_efficiency(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and 0 < value <= 1):
            raise ValueError(f"{_prefix(obj)}.{name}={value!r} must be in (0, 1]")


def require_fraction(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and 0 <= value <= 1):
            raise ValueError(f"{_prefix(obj)}.{name}={value!r} must be a fraction in [0, 1] (of the capacity)")


def require_whole(group: str, obj: object, *names: str, minimum: int = 1) -> None:
    """Each of ``names`` is a whole number (not a bool) >= ``minimum``; else one line naming ``group.name``."""
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{group}.{name}={value!r} must be a whole number >= {minimum}")
