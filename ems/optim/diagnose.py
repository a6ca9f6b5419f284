"""Why a request cannot be met: checks before solving, and a culprit search after.

Each message names the device (or grid) and the constraint, e.g.
``dishwasher: a 3-step cycle cannot fit in [20, 22)``. The checks are the kinds' own.
"""

from __future__ import annotations

from collections.abc import Callable

from ems.optim.kinds import device_kind, grid
from ems.optim.request import DayRequest


def precheck(r: DayRequest) -> list[str]:
    """Obvious causes of infeasibility, found without a solver (empty = none found)."""
    problems: list[str] = []
    for d in r.devices:
        problems += device_kind(d.flex_model).precheck(r, d)
    for kind, spec in r.storages():
        problems += kind.precheck(r, spec)
    return problems + grid.precheck(r)


def without(r: DayRequest, name: str) -> DayRequest:
    """A copy of ``r`` without the flexible part ``name`` (a device's, a battery's or an EV's name)."""
    if name in r.storage_names():
        return r.without_storage(name).model_copy(deep=True)
    return r.model_copy(update={"devices": [d for d in r.devices if d.name != name]}, deep=True)


def find_culprit(r: DayRequest, solve: Callable[[DayRequest], bool]) -> list[str]:
    """After an infeasible solve: the flexible parts whose removal makes the rest feasible.

    ``solve(request) -> bool`` says whether a request is feasible.
    """
    names = [d.name for d in r.devices] + r.storage_names()
    culprits = [name for name in names if solve(without(r, name))]
    g = r.grid
    if culprits:
        return [f"{c}: cannot be met together with the rest of the day (grid limits "
                f"max_import_kw={g.max_import_kw:g}, max_export_kw={g.max_export_kw:g})" for c in culprits]
    return [f"grid: the day's loads and limits (max_import_kw={g.max_import_kw:g}, "
            f"max_export_kw={g.max_export_kw:g}) admit no schedule"]
