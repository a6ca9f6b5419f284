"""Quality flags stored with every hourly reading (a bit mask in ``readings.flags``)."""

from __future__ import annotations

from enum import IntFlag


class Quality(IntFlag):
    """Why an hour's energy is missing, changed or untrustworthy (see MEANING)."""

    MISSING = 1
    FILLED = 2
    INTERPOLATED = 4
    RESET = 8
    IMPOSSIBLE = 16
    OUTLIER = 32
    LONG_GAP = 64
    RAMP = 128


MEANING = {
    Quality.MISSING: "no reading at the start or the end of the hour; energy is NULL",
    Quality.FILLED: "ems filled a short meter gap (<= cleaning.max_fill_hours) by linear interpolation",
    Quality.INTERPOLATED: "OPSD marked a bounding reading as interpolated in the source file",
    Quality.RESET: "the meter went down (reset or swap); energy is NULL, never negative",
    Quality.IMPOSSIBLE: "step above the device's physical cap, or PV energy at night; energy is NULL",
    Quality.OUTLIER: "above Q3 + k*IQR of the device's active hours; kept, for inspection",
    Quality.LONG_GAP: "the local day touches a meter gap longer than cleaning.long_gap_hours",
    Quality.RAMP: "part of a long run of equal positive steps, the signature of a linear fill",
}

#: ``valid`` (usable for settlement) is false when any of these is set.
NOT_VALID = Quality.MISSING | Quality.RESET | Quality.IMPOSSIBLE
#: ``learnable`` (usable for usage learning) is false when any of these is set.
NOT_LEARNABLE = NOT_VALID | Quality.FILLED | Quality.INTERPOLATED | Quality.LONG_GAP | Quality.RAMP
