"""Writing figures: every ems plot is saved (PNG) and freed through :func:`save_figure`."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

#: Resolution of every saved figure (dots per inch).
DPI = 120


def save_figure(fig, path: Path, dpi: int = DPI) -> Path:
    """Write ``fig`` as PNG to ``path`` and free it."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
