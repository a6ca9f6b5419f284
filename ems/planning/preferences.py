"""Putting usage PMFs on a day request's jobs (the phases mode, the service, the pyfunc model)."""

from __future__ import annotations

from datetime import date

import numpy as np

from ems.learning.priors import PmfSource, informative
from ems.optim.request import DayRequest


def with_preferences(request: DayRequest, device_of: dict[str, str], day: date, local_hours: np.ndarray,
                     pmfs: PmfSource, theta: float, w_prob: float) -> DayRequest:
    """A copy of ``request`` whose jobs carry their device's PMF for ``day`` (per step, by local hour).

    ``device_of`` maps each job to its building device. A PMF with no hour
    reaching ``theta`` (e.g. the uniform 1/24 < 0.05) says nothing about when
    the device runs: it excludes no hour and adds no penalty (``w_prob`` EUR
    per start at P = 0; per kWh for energy windows).
    """
    request = request.model_copy(deep=True)
    request.theta = theta
    for d in request.devices:
        pmf = informative(pmfs.pmf(device_of.get(d.name, d.name), day), theta)
        if pmf is None:
            continue
        d.pmf = pmf[local_hours].tolist()
        d.preference_weight = w_prob
    return request
