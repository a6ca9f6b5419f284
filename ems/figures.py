"""Writing figures: every ems plot is drawn with this module's ``plt`` (the Agg backend, or a notebook's own) and
saved (PNG) and freed through :func:`save_figure`."""

from __future__ import annotations

from pathlib import Path

import os

import matplotlib

#: Backends a notebook kernel sets (``MPLBACKEND``): ems then draws into the notebook instead of switching.
NOTEBOOK_BACKENDS = ("inline", "ipympl", "widget", "nbagg")

if not any(name in os.environ.get("MPLBACKEND", "").lower() for name in NOTEBOOK_BACKENDS):
    matplotlib.use("Agg")  # files only: no window, safe in helper processes and on machines without a screen
import matplotlib.pyplot as plt  # noqa: E402

#: Resolution of every saved figure (dots per inch).
DPI = 120


def save_figure(fig, path: Path, dpi: int = DPI) -> Path:
    """Write ``fig`` as PNG to ``path`` and free it."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
