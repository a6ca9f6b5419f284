"""The day-ahead MILP as numpy arrays, driven by the kind registry (as PyPSA drives
``create_model`` from its component table).

The grid and every part of the request (each device by its ``flex_model``,
the battery, the EV) add their columns and rows to one :class:`Model` through
their kind's ``define``, put their power into the per-step balance (``+`` =
consumption) and their cost into the objective. Everything is vectorised:
a kind adds a whole block of columns or rows in one call. The finished
:class:`Matrix` (column-wise sparse, as HiGHS takes it) goes to a solver
back-end (:mod:`ems.optim.backends`). Powers are kW, energies kWh (power x
``step_hours``), prices EUR/kWh. Balance at every step t::

    import - export + pv - curtailed = base + devices + battery charge - discharge + ev charge - ev discharge

Direction binaries (no charging and discharging, no importing and exporting,
in one step) are added only where they can change the optimum; see
:func:`ems.optim.kinds.storage.needs_direction` and :mod:`ems.optim.kinds.grid`.
With ``full=True`` every storage and grid step gets its binary (the reference formulation).
Each charge/discharge or import/export pair is recorded in ``Model.pairs`` so a
solution of the lighter model can be checked for simultaneity.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ems.optim.kinds import device_kind, grid
from ems.optim.kinds.base import DeviceKind, StorageKind
from ems.optim.request import DayRequest

INF = float("inf")


@dataclass
class Pair:
    """Two flows (columns ``a``, ``b``, one per step) that may not both be positive in a step.

    ``binary[i]`` is the direction binary of step i, or -1 where it was left out
    (there the optimum provably does not need it, and the solution is checked).
    """

    name: str
    a: np.ndarray
    b: np.ndarray
    binary: np.ndarray


@dataclass
class Matrix:
    """min cost @ x  s.t.  row_lower <= A x <= row_upper, col_lower <= x <= col_upper; A column-wise (CSC)."""

    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    start: np.ndarray  # int32, n_cols + 1
    index: np.ndarray  # int32 row of each non-zero
    value: np.ndarray
    integer: np.ndarray  # bool per column

    @property
    def n_cols(self) -> int:
        return len(self.cost)

    @property
    def n_rows(self) -> int:
        return len(self.row_lower)

    def rows_of(self) -> list[list[tuple[int, float]]]:
        """Row-wise (column, coefficient) lists, for back-ends that take constraints one by one."""
        rows: list[list[tuple[int, float]]] = [[] for _ in range(self.n_rows)]
        for j in range(self.n_cols):
            for k in range(self.start[j], self.start[j + 1]):
                rows[self.index[k]].append((j, float(self.value[k])))
        return rows


@dataclass
class Model:
    """The columns, rows and objective terms the kinds' ``define`` add, as arrays."""

    request: DayRequest
    full: bool = False
    #: Columns of the grid and of each battery and EV by name (``grid``, ``battery``, ``ev``, ...) ...
    vars: dict[str, Any] = field(default_factory=dict)
    #: ... and of the devices by device name (apart, so a device may be called ``battery``).
    devices: dict[str, Any] = field(default_factory=dict)
    pairs: list[Pair] = field(default_factory=list)
    _lower: list[np.ndarray] = field(default_factory=list)
    _upper: list[np.ndarray] = field(default_factory=list)
    _integer: list[np.ndarray] = field(default_factory=list)
    _row_lower: list[np.ndarray] = field(default_factory=list)
    _row_upper: list[np.ndarray] = field(default_factory=list)
    _entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    _load: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    costs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(
        default_factory=lambda: {"energy": [], "degradation": [], "penalty": [], "demand": []})
    n_cols: int = 0
    n_rows: int = 0

    @property
    def n(self) -> int:
        return self.request.n_steps

    @property
    def dt(self) -> float:
        return self.request.step_hours

    def columns(self, count: int, low: Any = 0.0, up: Any = INF, binary: bool = False) -> np.ndarray:
        """``count`` new columns (their indices); bounds scalar or per column; binaries in [0, 1]."""
        cols = np.arange(self.n_cols, self.n_cols + count)
        self.n_cols += count
        self._lower.append(np.broadcast_to(np.asarray(0.0 if binary else low, float), (count,)))
        self._upper.append(np.broadcast_to(np.asarray(1.0 if binary else (INF if up is None else up), float),
                                           (count,)))
        self._integer.append(np.full(count, binary))
        return cols

    def rows(self, count: int, lower: Any, upper: Any) -> np.ndarray:
        """``count`` new rows ``lower <= . <= upper`` (their indices); fill them with :meth:`coefs`."""
        rows = np.arange(self.n_rows, self.n_rows + count)
        self.n_rows += count
        self._row_lower.append(np.broadcast_to(np.asarray(lower, float), (count,)))
        self._row_upper.append(np.broadcast_to(np.asarray(upper, float), (count,)))
        return rows

    def coefs(self, rows: Any, cols: Any, values: Any) -> None:
        """Coefficients ``A[rows, cols] = values`` (broadcast together)."""
        rows, cols, values = np.broadcast_arrays(np.asarray(rows), np.asarray(cols), np.asarray(values, float))
        self._entries.append((rows.ravel(), cols.ravel(), values.ravel()))

    def into_balance(self, cols: Any, steps: Any, coefs: Any) -> None:
        """Put ``coefs * x[cols]`` (kW, + = consumption) into the balance of ``steps``."""
        cols, steps, coefs = np.broadcast_arrays(np.asarray(cols), np.asarray(steps), np.asarray(coefs, float))
        self._load.append((steps.ravel(), cols.ravel(), coefs.ravel()))

    def cost(self, term: str, cols: Any, coefs: Any) -> None:
        """Objective ``coefs * x[cols]`` (EUR) under ``term``: energy, degradation, penalty or demand."""
        cols, coefs = np.broadcast_arrays(np.asarray(cols), np.asarray(coefs, float))
        self.costs[term].append((cols.ravel(), coefs.ravel()))

    def term_vector(self, term: str) -> np.ndarray:
        """The objective coefficients of one term, per column."""
        out = np.zeros(self.n_cols)
        for cols, coefs in self.costs[term]:
            np.add.at(out, cols, coefs)
        return out

    def matrix(self) -> Matrix:
        """The assembled problem, A column-wise; call after every ``define`` and the balance."""
        empty = np.zeros(0)
        rows = np.concatenate([e[0] for e in self._entries] or [empty]).astype(np.int64)
        cols = np.concatenate([e[1] for e in self._entries] or [empty]).astype(np.int64)
        values = np.concatenate([e[2] for e in self._entries] or [empty])
        key, where = np.unique(cols * max(self.n_rows, 1) + rows, return_inverse=True)  # sorted by column, row
        values = np.bincount(where, weights=values, minlength=len(key))  # repeated entries add up
        keep = values != 0
        key, values = key[keep], values[keep]
        cols, rows = np.divmod(key, max(self.n_rows, 1))
        start = np.zeros(self.n_cols + 1, dtype=np.int32)
        np.cumsum(np.bincount(cols, minlength=self.n_cols), out=start[1:])
        cost = sum((self.term_vector(t) for t in self.costs), np.zeros(self.n_cols))
        return Matrix(cost=cost, col_lower=np.concatenate(self._lower or [empty]),
                      col_upper=np.concatenate(self._upper or [empty]),
                      row_lower=np.concatenate(self._row_lower or [empty]),
                      row_upper=np.concatenate(self._row_upper or [empty]),
                      start=start, index=rows.astype(np.int32), value=values,
                      integer=np.concatenate(self._integer or [np.zeros(0, bool)]))

    def pair(self, name: str, a: np.ndarray, b: np.ndarray, max_a: float, max_b: float, binary: np.ndarray) -> None:
        """Forbid ``a`` and ``b`` in one step by a direction binary where ``binary`` (bool per step) says so:
        ``a <= max_a * d`` and ``b <= max_b * (1 - d)``. Recorded for the simultaneity check either way."""
        cols = np.full(len(a), -1)
        where = np.flatnonzero(binary)
        if len(where):
            d = self.columns(len(where), binary=True)
            cols[where] = d
            rows = self.rows(len(where), -INF, 0.0)
            self.coefs(rows, a[where], 1.0)
            self.coefs(rows, d, -max_a)
            rows = self.rows(len(where), -INF, max_b)
            self.coefs(rows, b[where], 1.0)
            self.coefs(rows, d, max_b)
        self.pairs.append(Pair(name, np.asarray(a), np.asarray(b), cols))


def parts(request: DayRequest) -> Iterator[tuple[DeviceKind | StorageKind, Any]]:
    """(kind, spec) of every flexible part of the request: devices, then the storages."""
    for device in request.devices:
        yield device_kind(device.flex_model), device
    yield from request.storages()


def define_balance(m: Model) -> None:
    """Energy balance at every step: import - export + pv - curtailed = every load."""
    r = m.request
    fixed = np.asarray(r.base_load_kw, float) - np.asarray(r.pv_kw, float)
    rows = m.rows(m.n, fixed, fixed)
    for steps, cols, coefs in m._load:
        m.coefs(rows[steps], cols, -coefs)


def build_model(request: DayRequest, full: bool = False) -> Model:
    """The MILP for ``request``; ``full`` keeps every direction binary (the reference formulation)."""
    m = Model(request, full=full)
    grid.define(m)
    for kind, spec in parts(request):
        kind.define(m, spec)
    define_balance(m)
    return m
