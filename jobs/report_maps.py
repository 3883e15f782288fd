"""The two "measured journey map" charts of the report: the Sankey of the top paths between
touchpoints (b) and the touchpoint x stage satisfaction heat map (c). Pure functions from polars
frames to HTML fragments, built on the helpers of jobs/report_charts.py.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

import polars as pl

from jobs.report_charts import (
    INK,
    MUTED,
    TRACK,
    channel_color,
    clip,
    halo,
    placeholder,
    svg_open,
    text,
)
from jobs.summary import _E, _legend, _short, fmt_csat, fmt_int

# ---- (b) Sankey of the top paths -------------------------------------------------------------

Link = tuple[str, str, float]
"""(from touchpoint, to touchpoint, transitions)."""

SANKEY_COLUMNS = 4
MIN_LINK_SHARE = 0.02
"""Links thinner than this fraction of the heaviest one are hairlines that only add clutter."""
SANKEY_W, SANKEY_H, NODE_W, NODE_GAP, PAD = 1100, 460, 14, 16, 6


def _depths(edges: list[tuple[str, str]]) -> dict[str, int] | None:
    """Longest-path depth of every node from the sources; None if the edges form a cycle."""
    nodes = {n for edge in edges for n in edge}
    depth = dict.fromkeys(nodes, 0)
    for _ in range(len(nodes) + 1):
        changed = False
        for a, b in edges:
            if depth[b] < depth[a] + 1:
                depth[b], changed = depth[a] + 1, True
        if not changed:
            return depth
    return None  # still growing after |nodes| rounds: there is a cycle


def _orders(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Each touchpoint's order of first appearance. If the frame lacks one, the longest-path
    depth in the heaviest acyclic links stands in for all (two scales must not mix)."""
    order: dict[str, float] = {}
    for r in rows:
        for node, o in (
            (r["from_touchpoint"], r["from_order"]),
            (r["to_touchpoint"], r["to_order"]),
        ):
            if o is not None:
                order[str(node)] = float(o)
    nodes = {str(r[k]) for r in rows for k in ("from_touchpoint", "to_touchpoint")}
    if nodes <= order.keys():
        return order
    kept: list[tuple[str, str]] = []
    for r in rows:  # heaviest first
        edge = (str(r["from_touchpoint"]), str(r["to_touchpoint"]))
        if edge[0] != edge[1] and _depths([*kept, edge]) is not None:
            kept.append(edge)
    depth = _depths(kept) or {}
    return {node: float(depth.get(node, 0)) for node in nodes}


def _cut(nodes: list[str], links: list[Link], columns: int) -> dict[str, int]:
    """Cut the order-sorted nodes into `columns` consecutive groups leaving the least transition
    weight inside a group (a link inside a column cannot be drawn): dynamic programming over the
    cut points."""
    pos = {node: i for i, node in enumerate(nodes)}
    n, k = len(nodes), min(columns, len(nodes))
    inside = {
        (i, j): sum(w for a, b, w in links if i <= pos[a] < j and i <= pos[b] < j)
        for i in range(n)
        for j in range(i + 1, n + 1)
    }
    # best[c, j]: (weight left inside, group starts) for nodes[:j] cut into c groups
    best: dict[tuple[int, int], tuple[float, tuple[int, ...]]] = {
        (1, j): (inside[0, j], (0,)) for j in range(1, n + 1)
    }
    for c in range(2, k + 1):
        for j in range(c, n + 1):
            best[c, j] = min(
                (best[c - 1, i][0] + inside[i, j], (*best[c - 1, i][1], i)) for i in range(c - 1, j)
            )
    starts = best[k, n][1]
    return {node: bisect_right(starts, p) - 1 for node, p in pos.items()}


def sankey_links(
    transitions: pl.DataFrame, max_links: int = 25, columns: int = SANKEY_COLUMNS
) -> tuple[list[Link], dict[str, int]]:
    """The links to draw and each touchpoint's column. Columns follow the order in which
    customers first meet the touchpoints; only links going forward across columns are drawn
    (moves back to an earlier touchpoint and self-loops cannot be read in a Sankey)."""
    rows = transitions.sort("transitions", descending=True).rows(named=True)
    order = _orders(rows)
    forward = [
        (str(r["from_touchpoint"]), str(r["to_touchpoint"]), float(r["transitions"]))
        for r in rows
        if r["transitions"] and order[str(r["from_touchpoint"])] < order[str(r["to_touchpoint"])]
    ]
    nodes = sorted(
        {x for a, b, _n in forward[:max_links] for x in (a, b)}, key=lambda x: (order[x], x)
    )
    candidates = [(a, b, n) for a, b, n in forward if a in nodes and b in nodes]
    column = _cut(nodes, candidates, columns)
    drawable = [(a, b, n) for a, b, n in candidates if column[a] < column[b]]
    floor = MIN_LINK_SHARE * max((n for _a, _b, n in drawable), default=0.0)
    links = [(a, b, n) for a, b, n in drawable if n >= floor][:max_links]
    used = sorted({column[x] for a, b, _n in links for x in (a, b)})
    renumber = {c: i for i, c in enumerate(used)}  # a column may have lost all its links
    drawn = {x for a, b, _n in links for x in (a, b)}
    return links, {x: renumber[column[x]] for x in nodes if x in drawn}


@dataclass(frozen=True)
class SankeyLayout:
    column: dict[str, int]
    value: dict[str, float]
    """max(inflow, outflow) over the drawn links: the node's height in transitions."""
    y: dict[str, float]
    """Top of each node, px."""
    scale: float
    """px per transition."""
    columns: int


def sankey_layout(links: list[Link], col: dict[str, int]) -> SankeyLayout:
    inflow: dict[str, float] = {}
    outflow: dict[str, float] = {}
    for a, b, n in links:
        outflow[a], inflow[b] = outflow.get(a, 0.0) + n, inflow.get(b, 0.0) + n
    value = {node: max(inflow.get(node, 0.0), outflow.get(node, 0.0)) for node in col}
    columns = max(col.values()) + 1
    by_col = [[node for node in col if col[node] == c] for c in range(columns)]
    # one scale for all columns: the fullest column fills the height
    scale = min(
        (SANKEY_H - 2 * PAD - NODE_GAP * (len(nodes) - 1)) / sum(value[x] for x in nodes)
        for nodes in by_col
        if nodes
    )
    y: dict[str, float] = {}
    for c, nodes in enumerate(by_col):

        def order(node: str) -> tuple[float, float]:
            # barycentre of the sources already placed: keeps bands from crossing needlessly
            ins = [(y[a] + value[a] * scale / 2, n) for a, b, n in links if b == node and a in y]
            weight = sum(n for _centre, n in ins)
            centre = sum(centre * n for centre, n in ins) / weight if weight else math.inf
            return centre, -value[node]

        nodes.sort(key=order if c else lambda node: (-value[node], 0.0))
        span = sum(value[x] for x in nodes) * scale + NODE_GAP * (len(nodes) - 1)
        cursor = (SANKEY_H - span) / 2
        for node in nodes:
            y[node], cursor = cursor, cursor + value[node] * scale + NODE_GAP
    return SankeyLayout(col, value, y, scale, columns)


def _node_channels(transitions: pl.DataFrame) -> dict[str, str]:
    """Each touchpoint's channel, taken from its heaviest transition (a touchpoint can be
    reached on several channels; one colour per node keeps the picture readable)."""
    best: dict[str, tuple[float, str]] = {}
    for r in transitions.rows(named=True):
        n = float(r["transitions"])
        for node, ch in (
            (r["from_touchpoint"], r["from_channel"]),
            (r["to_touchpoint"], r["to_channel"]),
        ):
            if n > best.get(node, (-1.0, ""))[0]:
                best[node] = (n, str(ch))
    return {node: ch for node, (_n, ch) in best.items()}


def _band(x0: float, x1: float, y0: float, y1: float, w: float, color: str, title: str) -> str:
    """A link: two horizontal-tangent cubic beziers, `w` px thick."""
    xm = (x0 + x1) / 2
    return (
        f'<path d="M{x0:.1f},{y0:.1f} C{xm:.1f},{y0:.1f} {xm:.1f},{y1:.1f} {x1:.1f},{y1:.1f} '
        f"L{x1:.1f},{y1 + w:.1f} C{xm:.1f},{y1 + w:.1f} {xm:.1f},{y0 + w:.1f} {x0:.1f},"
        f'{y0 + w:.1f} Z" fill="{color}" fill-opacity="0.35"><title>{_E(title)}</title></path>'
    )


def sankey_chart(transitions: pl.DataFrame, max_links: int = 25) -> str:
    links, column = sankey_links(transitions, max_links) if transitions.height else ([], {})
    if not links:
        return placeholder("no touchpoint-to-touchpoint transitions")
    channel, lay = _node_channels(transitions), sankey_layout(links, column)
    step = (SANKEY_W - 2 * PAD - NODE_W) / max(1, lay.columns - 1)
    x = {node: PAD + c * step for node, c in lay.column.items()}
    out_at, in_at = dict(lay.y), dict(lay.y)  # where the next band leaves / enters each node
    parts = [svg_open(SANKEY_W, SANKEY_H, "Top touchpoint-to-touchpoint paths")]
    for a, b, n in sorted(links, key=lambda link: (lay.y[link[0]], lay.y[link[1]])):
        w = n * lay.scale
        title = f"{a} → {b}: {fmt_int(int(n))} transitions"
        parts.append(
            _band(x[a] + NODE_W, x[b], out_at[a], in_at[b], w, channel_color(channel[a]), title)
        )
        out_at[a], in_at[b] = out_at[a] + w, in_at[b] + w
    for node, c in lay.column.items():
        h, last = max(2.0, lay.value[node] * lay.scale), c == lay.columns - 1
        parts.append(
            f'<rect x="{x[node]:.1f}" y="{lay.y[node]:.1f}" width="{NODE_W}" height="{h:.1f}" '
            f'rx="2" fill="{channel_color(channel[node])}"><title>{_E(node)} '
            f"({_E(channel[node])})</title></rect>"
        )
        label = f"{clip(node, 24)} {_short(lay.value[node])}"
        lx = x[node] - 6 if last else x[node] + NODE_W + 6  # last column: label on the left
        parts.append(
            text(lx, lay.y[node] + h / 2 + 4, label, 12, INK, "end" if last else "start", halo())
        )
    parts.append("</svg>")
    legend = _legend([(ch, channel_color(ch)) for ch in sorted({channel[n] for n in lay.column})])
    note = (
        f'<div class="note">Top {len(links)} links by transitions, left to right in the order '
        "customers first meet each touchpoint. Moves back to an earlier touchpoint or within a "
        "column and self-loops are left out; band colour = channel of the source touchpoint."
        "</div>"
    )
    return legend + "".join(parts) + note


# ---- (c) satisfaction heat map ---------------------------------------------------------------

_CSAT_STOPS = ((1.0, (0xE1, 0x57, 0x59)), (3.0, (0xF3, 0xC9, 0x69)), (5.0, (0x59, 0xA1, 0x4F)))
HEAT_LABEL_W, HEAT_CELL_H, HEAT_HEAD_H = 190, 40, 26


def csat_color(csat: float) -> str:
    """Red (1) -> amber (3) -> green (5), linear in RGB between the stops."""
    csat = min(5.0, max(1.0, csat))
    for (lo, c0), (hi, c1) in zip(_CSAT_STOPS, _CSAT_STOPS[1:], strict=False):
        if csat <= hi:
            t = (csat - lo) / (hi - lo)
            return "#" + "".join(
                f"{round(a + (b - a) * t):02x}" for a, b in zip(c0, c1, strict=True)
            )
    return "#59a14f"


def _heat_axes(
    satisfaction: pl.DataFrame, stage_order: tuple[str, ...], max_rows: int
) -> tuple[list[str], list[str]]:
    """Rows: touchpoints with the most responses; columns: stages in funnel order, then others."""
    responses = pl.col("responses_csat").fill_null(0) + pl.col("responses_nps").fill_null(0)
    totals = (
        satisfaction.group_by("touchpoint")
        .agg(responses.sum().alias("n"))
        .sort(["n", "touchpoint"], descending=[True, False])
    )
    present = set(satisfaction["stage"].to_list())
    stages = [s for s in stage_order if s in present] + sorted(present - set(stage_order))
    return totals["touchpoint"].head(max_rows).to_list(), stages


def _heat_cell(
    x: float, y: float, w: float, tp: str, stage: str, cell: dict[str, Any] | None
) -> list[str]:
    box = f'x="{x + 2}" y="{y + 2}" width="{w - 4}" height="{HEAT_CELL_H - 4}" rx="4"'
    if cell is None:
        return [f'<rect {box} fill="{TRACK}"/>', text(x + w / 2, y + 25, "–", 12, MUTED, "middle")]
    csat, nps = cell["csat_avg"], cell["nps"]
    nps_text = "n/a" if nps is None else f"{nps:+.0f}"
    title = (
        f"{tp} · {stage}: CSAT {fmt_csat(csat)} ({fmt_int(int(cell['responses_csat'] or 0))} "
        f"responses), NPS {nps_text} ({fmt_int(int(cell['responses_nps'] or 0))} responses)"
    )
    fill = csat_color(float(csat)) if csat is not None else TRACK
    label = fmt_csat(csat) + ("" if nps is None else f"  ·  NPS {nps_text}")
    return [
        f'<rect {box} fill="{fill}"><title>{_E(title)}</title></rect>',
        text(x + w / 2, y + 25, label, 12, INK, "middle", ' font-weight="600"'),
    ]


def heatmap_chart(
    satisfaction: pl.DataFrame, stage_order: tuple[str, ...], max_rows: int = 14
) -> str:
    """Touchpoints x stages: colour = CSAT average, label = CSAT and NPS."""
    if not satisfaction.height:
        return placeholder("no CSAT or NPS responses")
    touchpoints, stages = _heat_axes(satisfaction, stage_order, max_rows)
    cells = {(r["touchpoint"], r["stage"]): r for r in satisfaction.rows(named=True)}
    cell_w = min(170, (1100 - HEAT_LABEL_W) // max(1, len(stages)))
    width = 1100  # fixed, like every chart: text keeps one size however few stages there are
    height = HEAT_HEAD_H + HEAT_CELL_H * len(touchpoints) + 4
    parts = [svg_open(width, height, "Satisfaction by touchpoint and stage")]
    for j, stage in enumerate(stages):
        parts.append(text(HEAT_LABEL_W + cell_w * (j + 0.5), 16, stage, 12, MUTED, "middle"))
    for i, tp in enumerate(touchpoints):
        y = HEAT_HEAD_H + i * HEAT_CELL_H
        parts.append(text(0, y + 25, clip(tp, 26), 12.5, INK))
        for j, stage in enumerate(stages):
            parts += _heat_cell(
                HEAT_LABEL_W + j * cell_w, y, cell_w, tp, stage, cells.get((tp, stage))
            )
    parts.append("</svg>")
    return _csat_legend() + "".join(parts)


def _csat_legend() -> str:
    """A CSS gradient strip from 1 to 5, plus the 'no responses' swatch."""
    stops = ", ".join(csat_color(v) for v in (1, 2, 3, 4, 5))
    return (
        '<div class="legend"><span>CSAT 1</span><span class="ramp" style="background:'
        f'linear-gradient(90deg, {stops})"></span><span>5</span>'
        f'<span><i style="background:{TRACK}"></i>no responses</span>'
        "<span>cell label: CSAT average · NPS (−100…+100)</span></div>"
    )
