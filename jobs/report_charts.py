"""Inline SVG charts of the journey report (jobs/report.py) and their shared helpers: pure
functions from polars frames to HTML fragments (a legend + one <svg>, or a "no data yet"
placeholder). No scripts, no external references; every piece of text goes through html.escape.
The Sankey and the satisfaction heat map live in jobs/report_maps.py.

Shares are fractions 0..1; CSAT is on the 1..5 scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date

import polars as pl

from jobs.summary import _E, _legend, _nice_ceiling, _short, fmt_csat, fmt_int, fmt_money, fmt_pct
from pipeline.taxonomy import taxonomy

INK, MUTED, GRID, TRACK = "#1d2433", "#6b7385", "#e4e7ec", "#f0f2f5"
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#b07aa1",
    "#edc948",
    "#9c755f",
    "#ff9da7",
    "#5f6b7a",
    "#86bcb6",
    "#d37295",
)
MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "markov")
MODEL_COLORS = dict(
    zip(MODELS, ("#9fb9dc", "#4e79a7", "#76b7b2", "#59a14f", "#edc948", "#e15759"), strict=True)
)
FUNNEL_COLOR, PARETO_COLOR, CUMUL_COLOR, MARK_COLOR = "#4e79a7", "#4e79a7", "#f28e2b", "#e15759"
TREND_COLORS = {
    "events": "#4e79a7",
    "conversions": "#59a14f",
    "revenue": "#f28e2b",
    "csat_avg": "#b07aa1",
}


def placeholder(what: str) -> str:
    return f'<div class="empty">No data yet: {_E(what)}.</div>'


def svg_open(width: int, height: int, label: str) -> str:
    return f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{_E(label)}">'


def text(
    x: float,
    y: float,
    content: str,
    size: float = 11,
    fill: str = MUTED,
    anchor: str = "start",
    extra: str = "",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}" '
        f'text-anchor="{anchor}"{extra}>{_E(content)}</text>'
    )


def halo() -> str:
    """Text attributes drawing a white outline under the glyphs, readable over bands and bars."""
    return ' stroke="#fff" stroke-width="3" paint-order="stroke" stroke-linejoin="round"'


def channel_color(channel: str) -> str:
    """One colour per channel across the report: taxonomy order first, then by name."""
    known = list(taxonomy().channels)
    index = known.index(channel) if channel in known else len(known) + sum(map(ord, channel))
    return PALETTE[index % len(PALETTE)]


def clip(label: str, room: int) -> str:
    return label if len(label) <= room else label[: max(1, room - 1)] + "…"


def _y_axis(
    left: float,
    top: float,
    plot_w: float,
    plot_h: float,
    step: float,
    ticks: int,
    fmt: Callable[[float], str],
    right: bool = False,
    color: str = MUTED,
) -> list[str]:
    """Horizontal grid lines (left axis only) and tick labels on the left or right side."""
    parts = []
    for i in range(ticks + 1):
        y = top + plot_h - plot_h * i / ticks
        if not right:
            parts.append(
                f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="{GRID}"/>'
            )
        x, anchor = (left + plot_w + 8, "start") if right else (left - 8, "end")
        parts.append(text(x, y + 4, fmt(step * i), fill=color, anchor=anchor))
    return parts


# ---- (a) funnel ------------------------------------------------------------------------------


def funnel_chart(funnel: pl.DataFrame) -> str:
    """Centred horizontal bars (a funnel), with the conversion from the previous step."""
    rows = funnel.sort("step").rows(named=True) if funnel.height else []
    if not rows or not rows[0]["persons"]:
        return placeholder("no person has reached the first funnel step")
    width, row_h, label_w, value_w = 1100, 58, 150, 190
    height = row_h * len(rows) + 6
    bar_area = width - label_w - value_w
    top_value = max(int(r["persons"]) for r in rows) or 1
    parts = [svg_open(width, height, "Purchase funnel: persons per step")]
    previous: int | None = None
    for i, row in enumerate(rows):
        persons = int(row["persons"])
        y = i * row_h + 10
        w = max(2.0, bar_area * persons / top_value) if persons else 0.0
        x = label_w + (bar_area - w) / 2
        parts.append(text(0, y + 21, str(row["event_type"]), 13, INK))
        parts.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{bar_area}" height="26" rx="4" '
            f'fill="{TRACK}"/>'
        )
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="26" rx="4" '
            f'fill="{FUNNEL_COLOR}" fill-opacity="{0.95 - 0.1 * i:.2f}">'
            f"<title>{_E(str(row['event_type']))}: {_E(fmt_int(persons))} persons</title></rect>"
        )
        share = fmt_pct(persons / top_value)
        parts.append(text(width, y + 16, f"{fmt_int(persons)} persons", 13, INK, "end"))
        parts.append(text(width, y + 31, f"{share} of step 1", 11, MUTED, "end"))
        if previous is not None:
            rate = fmt_pct(persons / previous) if previous else "n/a"
            parts.append(
                text(
                    label_w + bar_area / 2,
                    y - 1,
                    f"↓ {rate} from previous step",
                    11,
                    CUMUL_COLOR,
                    "middle",
                    ' font-weight="600"',
                )
            )
        previous = persons
    parts.append("</svg>")
    legend = _legend(
        [
            ("Persons reaching the step (7-day window)", FUNNEL_COLOR),
            ("Step-to-step conversion", CUMUL_COLOR),
        ]
    )
    return legend + "".join(parts)


# ---- (d) attribution -------------------------------------------------------------------------


def attribution_chart(attribution: pl.DataFrame, max_channels: int = 10) -> str:
    """Grouped bars: one group per channel (by Markov credit), one bar per model."""
    if not attribution.height:
        return placeholder("no attributed conversions")
    credit = {
        (r["model"], r["channel"]): float(r["credit"] or 0) for r in attribution.rows(named=True)
    }
    models = [m for m in MODELS if any(k[0] == m for k in credit)]
    models += sorted({k[0] for k in credit} - set(models))
    ranked = (
        attribution.group_by("channel")
        .agg(
            pl.when(pl.col("model") == "markov")
            .then(pl.col("credit"))
            .otherwise(0)
            .sum()
            .alias("m"),
            pl.col("credit").sum().alias("all"),
        )
        .sort(["m", "all", "channel"], descending=[True, True, False])
    )
    channels = ranked["channel"].head(max_channels).to_list()
    width, height, left, right, top, bottom = 1100, 320, 56, 10, 14, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max, step = _nice_ceiling(max(credit.values()))
    parts = [svg_open(width, height, "Conversions credited to each channel, by model")]
    parts += _y_axis(left, top, plot_w, plot_h, step, 4, _short)
    slot = plot_w / len(channels)
    bar_w = min(22.0, slot * 0.8 / len(models))
    for i, ch in enumerate(channels):
        x0 = left + slot * i + (slot - bar_w * len(models)) / 2
        for j, model in enumerate(models):
            value = credit.get((model, ch), 0.0)
            h = plot_h * value / y_max
            parts.append(
                f'<rect x="{x0 + j * bar_w:.1f}" y="{top + plot_h - h:.1f}" '
                f'width="{bar_w - 2:.1f}" height="{h:.1f}" rx="2" '
                f'fill="{MODEL_COLORS.get(model, MUTED)}">'
                f"<title>{_E(ch)} · {_E(model)}: {value:,.1f} conversions</title></rect>"
            )
        parts.append(
            text(left + slot * (i + 0.5), height - 18, clip(ch, int(slot / 7)), 12, INK, "middle")
        )
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}" stroke="#c9ced8"/></svg>'
    )
    legend = _legend([(m.replace("_", " "), MODEL_COLORS.get(m, MUTED)) for m in models])
    return legend + "".join(parts)


# ---- (e) Pareto ------------------------------------------------------------------------------


def pareto_cut(pareto: pl.DataFrame, threshold: float = 0.8) -> int:
    """How many touchpoints (by rank) it takes to reach `threshold` of influenced revenue."""
    shares = pareto.sort("rank")["cumulative_share"].to_list()
    return next(
        (i + 1 for i, s in enumerate(shares) if s is not None and s >= threshold - 1e-9),
        len(shares),
    )


def pareto_chart(pareto: pl.DataFrame, currency: str = "", max_bars: int = 20) -> str:
    """Influenced revenue per touchpoint (bars, left axis) and cumulative share (line, right
    axis), with the 80% line and the rank where it is crossed."""
    if not pareto.height or not (pareto["influenced_revenue"].fill_null(0) > 0).any():
        return placeholder("no revenue influenced by any touchpoint")
    rows = pareto.sort("rank").head(max_bars).rows(named=True)
    cut = pareto_cut(pareto)
    width, height, left, right, top, bottom = 1100, 340, 64, 50, 16, 92
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max, step = _nice_ceiling(max(float(r["influenced_revenue"] or 0) for r in rows))
    parts = [svg_open(width, height, "Pareto of touchpoints by influenced revenue")]
    parts += _y_axis(left, top, plot_w, plot_h, step, 4, _short)
    parts += _y_axis(
        left, top, plot_w, plot_h, 0.25, 4, lambda v: f"{v * 100:.0f}%", True, CUMUL_COLOR
    )
    slot = plot_w / len(rows)
    points = []
    for i, r in enumerate(rows):
        revenue, cx = float(r["influenced_revenue"] or 0), left + slot * (i + 0.5)
        h = plot_h * revenue / y_max
        opacity = "0.9" if i < cut else "0.4"  # the vital few stand out from the rest
        parts.append(
            f'<rect x="{cx - slot * 0.35:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{h:.1f}" rx="2" fill="{PARETO_COLOR}" fill-opacity="{opacity}"><title>'
            f"#{int(r['rank'])} {_E(str(r['touchpoint']))}: {_E(fmt_money(revenue, currency))}, "
            f"{fmt_pct(float(r['share'] or 0))} (cumulative "
            f"{fmt_pct(float(r['cumulative_share'] or 0))})</title></rect>"
        )
        points.append((cx, top + plot_h * (1 - min(1.0, float(r["cumulative_share"] or 0)))))
        parts.append(
            text(
                cx,
                top + plot_h + 14,
                clip(str(r["touchpoint"]), 16),
                11,
                INK,
                "end",
                f' transform="rotate(-35 {cx:.1f} {top + plot_h + 14})"',
            )
        )
    y80 = top + plot_h * 0.2
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{y80:.1f}" y2="{y80:.1f}" '
        f'stroke="{MARK_COLOR}" stroke-dasharray="6 4" stroke-width="1.5"/>'
    )
    parts.append(
        # right end, above the line: bars are short there and the cumulative line is near 100%
        text(
            left + plot_w - 6,
            y80 - 6,
            "80% of influenced revenue",
            11,
            MARK_COLOR,
            "end",
            ' font-weight="600"' + halo(),
        )
    )
    if cut <= len(rows):
        x_cut = left + slot * cut
        parts.append(
            f'<line x1="{x_cut:.1f}" x2="{x_cut:.1f}" y1="{top}" y2="{top + plot_h}" '
            f'stroke="{MARK_COLOR}" stroke-dasharray="3 3"/>'
        )
        # just under the dashed line, right of the cut: the cumulative line is above it there
        parts.append(
            text(
                x_cut + 6,
                y80 + 16,
                f"{cut} of {pareto.height} touchpoints reach 80%",
                11,
                MARK_COLOR,
                extra=' font-weight="600"' + halo(),
            )
        )
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    parts.append(
        f'<polyline points="{line}" fill="none" stroke="{CUMUL_COLOR}" stroke-width="2.5" '
        'stroke-linejoin="round"/>'
    )
    parts += [
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#fff" stroke="{CUMUL_COLOR}" '
        'stroke-width="2"/>'
        for x, y in points
    ]
    parts.append("</svg>")
    legend = _legend(
        [
            (f"Influenced revenue ({_unit(currency)}left axis)", PARETO_COLOR),
            ("Cumulative share (right axis)", CUMUL_COLOR),
            ("80% threshold", MARK_COLOR),
        ]
    )
    return legend + "".join(parts)


# ---- (f) daily trends ------------------------------------------------------------------------

_TRENDS = (
    ("events", "Events", lambda v: fmt_int(round(v))),
    ("conversions", "Conversions", lambda v: fmt_int(round(v))),
    ("revenue", "Revenue", lambda v: _short(v)),
    ("csat_avg", "CSAT (1–5)", fmt_csat),
)


def _unit(currency: str) -> str:
    """'EUR, ' for one currency; several are summed as plain numbers (jobs/summary.py)."""
    return f"{currency}, " if currency else "all currencies, "


def trends_chart(daily: pl.DataFrame, currency: str = "") -> str:
    """Four small multiples (2 x 2), one per metric, each with its own scale."""
    if not daily.height:
        return placeholder("no daily figures")
    rows = daily.sort("day").rows(named=True)
    days: list[date] = [r["day"] for r in rows]
    width, panel_w, panel_h = 1100, 535, 170
    parts = [svg_open(width, panel_h * 2 + 20, "Daily events, conversions, revenue and CSAT")]
    for k, (column, title, fmt) in enumerate(_TRENDS):
        x0, y0 = (k % 2) * (panel_w + 30), (k // 2) * (panel_h + 20)
        title = f"{title} ({_unit(currency)[:-2]})" if column == "revenue" else title
        values = [None if r[column] is None else float(r[column]) for r in rows]
        parts += _trend_panel(
            x0, y0, panel_w, panel_h, days, values, title, fmt, TREND_COLORS[column]
        )
    parts.append("</svg>")
    legend = _legend([(title, TREND_COLORS[c]) for c, title, _f in _TRENDS])
    return legend + "".join(parts)


def _trend_panel(
    x0: float,
    y0: float,
    w: float,
    h: float,
    days: list[date],
    values: list[float | None],
    title: str,
    fmt: Callable[[float], str],
    color: str,
) -> list[str]:
    left, top, bottom = 52, 26, 22
    plot_w, plot_h = w - left - 8, h - top - bottom
    known = [v for v in values if v is not None]
    latest = known[-1] if known else None
    parts = [
        text(x0, y0 + 14, title, 12.5, INK, extra=' font-weight="600"'),
        text(
            x0 + w,
            y0 + 14,
            "latest " + ("n/a" if latest is None else fmt(latest)),
            11,
            color,
            "end",
        ),
    ]
    y_max, step = _nice_ceiling(max(known, default=0.0))
    ticks = 4
    if title.startswith("CSAT"):
        y_max, step, ticks = 5.0, 1.0, 5  # a fixed scale: satisfaction is read against its range
    parts += _y_axis(x0 + left, y0 + top, plot_w, plot_h, step, ticks, _short)
    n = len(days)
    xs = [x0 + left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2) for i in range(n)]
    points = [
        (x, y0 + top + plot_h * (1 - v / y_max))
        for x, v in zip(xs, values, strict=True)
        if v is not None
    ]
    if len(points) > 1:
        base = y0 + top + plot_h
        area = f"{points[0][0]:.1f},{base:.1f} " + " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(
            f'<polygon points="{area} {points[-1][0]:.1f},{base:.1f}" fill="{color}" '
            'fill-opacity="0.12"/>'
        )
        parts.append(
            f'<polyline points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in points)}" '
            f'fill="none" stroke="{color}" stroke-width="2" stroke-linejoin="round"/>'
        )
    parts += [
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{2.5 if n <= 60 else 0}" fill="{color}"/>'
        for x, y in points
    ]
    every = max(1, math.ceil(n / 6))
    for i in range(0, n, every):
        parts.append(text(xs[i], y0 + h - 4, days[i].strftime("%b %d"), 10.5, MUTED, "middle"))
    return parts
