"""Putting usage PMFs on a day request's jobs (the phases mode, the service, the pyfunc model)."""

from __future__ import annotations

from datetime import date

import numpy as np

from ems.learning.priors import PmfSource, informative
from ems.optim.kinds import device_kind
from ems.optim.request import PMF_SUM_TOL, DayRequest


#: The warning a job whose PMF hours had to widen carries (counted as a preference violation).
WIDENED = "the PMF's hours cannot hold the job; widened to the nearest hours that can"


def with_preferences(request: DayRequest, device_of: dict[str, str], day: date, local_hours: np.ndarray,
                     pmfs: PmfSource, theta: float, w_prob: float) -> DayRequest:
    """A copy of ``request`` whose jobs carry their device's PMF for ``day`` (per step, by local hour).

    ``device_of`` maps each job to its building device. A PMF with no hour
    reaching ``theta`` (e.g. the uniform 1/24 < 0.05) says nothing about when
    the device runs: it excludes no hour and adds no penalty (``w_prob`` EUR
    per start at P = 0; per kWh for energy windows).

    On a 25-hour DST day the repeated local hour's probability is shared by
    its two steps, and on a 23-hour day the missing hour's is spread over the
    others in proportion, so each day's step PMF sums to 1 as the request
    requires.

    A PMF never makes a real day infeasible: where its hours cannot hold the
    job (e.g. a 4 h run in the prior's 2 h window), the allowed hours widen to
    the nearest that can (:func:`widen`); a start there is outside the PMF's
    hours and counts so in the ``starts in the PMF's hours`` KPI.
    """
    request = request.model_copy(deep=True)
    request.theta = theta
    hours = np.asarray(local_hours, dtype=int)
    occurrences = np.bincount(hours, minlength=24)[hours]
    for d in request.devices:
        pmf = informative(pmfs.pmf(device_of.get(d.name, d.name), day), theta)
        if pmf is None:
            continue
        steps = np.asarray(pmf, float)[hours] / occurrences
        total = steps.sum()
        if total <= 0:  # all of its mass on the hour a 23-hour day skips: nothing to prefer that day
            continue
        if abs(total - 1.0) > PMF_SUM_TOL:
            steps = steps / total
        # A longer horizon than the day (a receding plan): no job runs beyond the day, P = 0 there.
        d.pmf = steps.tolist() + [0.0] * (request.n_steps - len(steps))
        d.preference_weight = w_prob
        kind = device_kind(d.flex_model)
        if kind.precheck(request, d) and not kind.precheck(request, d.model_copy(update={"pmf": None})):
            d.pmf = widen(request, d, len(steps))
            request._warnings.append(f"{d.name}: {WIDENED}")
    return request


def widen(request: DayRequest, device, day_steps: int) -> list[float]:
    """``device``'s step PMF with its allowed hours (P >= theta) grown one step to each side at a
    time, within the day's ``day_steps``, until the kind's precheck passes: each added step gets
    P = theta, taken from the allowed steps in proportion to their excess over theta (the PMF still
    sums to 1 and no allowed step falls below theta; if the excess is too small, the grown steps
    share the mass equally)."""
    kind, theta = device_kind(device.flex_model), request.theta
    p = np.asarray(device.pmf, float)
    allowed = p >= theta
    for _ in range(day_steps):
        grown = allowed | np.r_[allowed[1:], False] | np.r_[False, allowed[:-1]]
        grown[day_steps:] = False
        added = grown & ~allowed
        q = p.copy()
        need = theta * added.sum() - q[added].sum()
        q[added] = theta
        excess = np.where(allowed, q - theta, 0.0)
        if excess.sum() >= need > 0:
            q -= excess * need / excess.sum()
        elif need > 0:
            q = np.where(grown, 1.0 / grown.sum(), 0.0)
        if not kind.precheck(request, device.model_copy(update={"pmf": q.tolist()})):
            return q.tolist()
        allowed, p = grown, q
    return p.tolist()
