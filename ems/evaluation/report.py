"""The evaluation report: sections of tables, plots and the seed's claims beside the measured figures,
written as ``report.md`` and ``report.html`` (the same content; the HTML embeds nothing from the network)."""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ems.experiment.summary import formatted


@dataclass
class Table:
    """A table of formatted cells; ``caption`` says what the numbers are (units, period, config)."""

    columns: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class Claim:
    """One of the seed's claims beside what was measured and the plain verdict."""

    seed: str
    measured: str
    verdict: str


@dataclass
class Section:
    """A report section (``key`` as in ``evaluation.sections``); ``plots`` and ``configs`` are paths
    relative to the report folder."""

    key: str
    title: str
    seed_ref: str
    text: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    configs: list[tuple[str, str]] = field(default_factory=list)


def cell(value: float | None, fmt: str = "{:.2f}") -> str:
    """A formatted number, ``n/a`` for a missing or undefined one (as in the KPI table)."""
    return formatted(value, fmt)


def verdict(values: list[float], low: float, high: float | None = None) -> str:
    """How measured ``values`` stand to the seed's range [low, high] (``high`` None: a lower bound)."""
    finite = [v for v in values if v is not None and not math.isnan(v)]
    if not finite:
        return "not measured"
    top = math.inf if high is None else high
    inside = sum(low <= v <= top for v in finite)
    below = sum(v < low for v in finite)
    if inside == len(finite):
        return "agrees"
    if inside == 0:
        side = "below" if below == len(finite) else "above" if below == 0 else "outside"
        return f"contradicts: all {len(finite)} measured values are {side} the seed's claim"
    return f"partly: {inside} of {len(finite)} measured values within the seed's claim, {below} below"


def span(values: list[float], fmt: str = "{:.1f}") -> str:
    """``min..max (n values)`` of the finite values."""
    finite = [v for v in values if v is not None and not math.isnan(v)]
    if not finite:
        return "n/a"
    return f"{fmt.format(min(finite))} .. {fmt.format(max(finite))} ({len(finite)} values)"


def write(sections: list[Section], header: list[str], out: Path) -> tuple[Path, Path]:
    """``report.md`` and ``report.html`` in ``out``."""
    md, page = out / "report.md", out / "report.html"
    md.write_text(_markdown(sections, header))
    page.write_text(_html(sections, header))
    return md, page


def claims_table(sections: list[Section]) -> Table:
    rows = [[s.title, c.seed, c.measured, c.verdict] for s in sections for c in s.claims]
    return Table(["section", "seed's claim", "measured here", "verdict"], rows)


def _md_table(t: Table) -> list[str]:
    lines = ["| " + " | ".join(t.columns) + " |", "|" + "---|" * len(t.columns)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in t.rows]
    return lines + (["", f"*{t.caption}*"] if t.caption else [])


def _markdown(sections: list[Section], header: list[str]) -> str:
    lines = ["# ems evaluation: the seed study's claims on real data", "", *header, "",
             "## The seed's claims beside the measured figures", "", *_md_table(claims_table(sections))]
    for s in sections:
        lines += ["", f"## {s.title}", "", f"Seed: {s.seed_ref}.", ""]
        for paragraph in s.text:
            lines += [paragraph, ""]
        for t in s.tables:
            lines += [*_md_table(t), ""]
        lines += [f"![{Path(p).stem}]({p})" for p in s.plots]
        if s.configs:
            lines += ["", "Configs: " + ", ".join(f"[{label}]({path})" for label, path in s.configs)]
    return "\n".join(lines) + "\n"


def _inline(text: str) -> str:
    """Escaped text with `code` spans and **bold** as HTML."""
    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _html_table(t: Table) -> str:
    head = "".join(f"<th>{_inline(c)}</th>" for c in t.columns)
    body = "".join("<tr>" + "".join(f"<td>{_inline(str(c))}</td>" for c in row) + "</tr>" for row in t.rows)
    caption = f"<caption>{_inline(t.caption)}</caption>" if t.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
         "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}td,th{border:1px solid #ccc;padding:3px 8px;"
         "text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
         "caption{caption-side:bottom;font-style:italic;text-align:left;padding-top:4px}img{max-width:100%}"
         "code{background:#f3f3f3;padding:0 3px}")


def _html(sections: list[Section], header: list[str]) -> str:
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><link rel='icon' href='data:,'>"
             "<title>ems evaluation</title>"
             f"<style>{STYLE}</style></head><body>", "<h1>ems evaluation: the seed study's claims on real data</h1>",
             *(f"<p>{_inline(line)}</p>" for line in header),
             "<h2 id='claims'>The seed's claims beside the measured figures</h2>", _html_table(claims_table(sections))]
    for s in sections:
        parts += [f"<h2 id='{s.key}'>{_inline(s.title)}</h2>", f"<p>Seed: {_inline(s.seed_ref)}.</p>"]
        parts += [f"<p>{_inline(p)}</p>" for p in s.text]
        parts += [_html_table(t) for t in s.tables]
        parts += [f"<img src='{html.escape(p)}' alt='{html.escape(Path(p).stem)}'>" for p in s.plots]
        if s.configs:
            parts.append("<p>Configs: " + ", ".join(f"<a href='{html.escape(path)}'>{html.escape(label)}</a>"
                                                    for label, path in s.configs) + "</p>")
    return "\n".join(parts) + "\n</body></html>\n"
