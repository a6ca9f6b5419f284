"""Putting usage PMFs on a day request's jobs (the phases mode, the service, the pyfunc model)."""

from __future__ import annotations

from datetime import date

import numpy as np

from ems.learning.priors import PmfSource, informative
from ems.optim.request import PMF_SUM_TOL, DayRequest


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
    return request
