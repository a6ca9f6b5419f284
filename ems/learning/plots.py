"""Learning plots: PMF evolution heatmaps, JS(step)/JS(prior) curves, entropy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ems.figures import plt, save_figure  # Agg, or a notebook's own backend


def learning_plots(updates: pl.DataFrame, out: Path) -> list[Path]:
    """One heatmap per device (weekday updates, days x hours) and one curve figure for all devices."""
    files = []
    for device in sorted(updates["device"].unique().to_list()):
        rows = updates.filter(pl.col("device") == device, pl.col("day_type") == "weekday").sort("day")
        if rows.is_empty():
            continue
        fig, ax = plt.subplots(figsize=(8, 5))
        image = ax.imshow(np.array(rows["after"].to_list()), aspect="auto", cmap="viridis", interpolation="nearest")
        ax.set_xlabel("local hour")
        ax.set_ylabel("update (weekdays, in date order)")
        ax.set_title(f"{device}: PMF after each weekday update")
        fig.colorbar(image, ax=ax, label="probability")
        files.append(save_figure(fig, out / f"pmf_heatmap_{device}.png"))
    fig, (ax_step, ax_prior, ax_h) = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    for device in sorted(updates["device"].unique().to_list()):
        rows = updates.filter(pl.col("device") == device).sort("day")
        ax_step.plot(rows["js_step"], label=device)
        ax_prior.plot(rows["js_prior"], label=device)
        ax_h.plot(rows["entropy"], label=device)
    ax_step.set_yscale("log")
    ax_step.set_ylabel("JS(step)")
    ax_prior.set_ylabel("JS(prior)")
    ax_h.set_ylabel("entropy (nats)")
    ax_h.set_xlabel("update number")
    ax_step.legend(fontsize=8)
    ax_step.set_title("convergence of the usage PMFs")
    files.append(save_figure(fig, out / "learning_curves.png"))
    return files
