"""Journey report: the measured journey map, as one self-contained HTML page or terminal text.

`load(client)` runs jobs/sql/report/*.sql (one SELECT per chart, reading only the stable
`parcours.v_*` views) into polars frames, plus the headline `Summary` of jobs/summary.py.
The renderers are pure functions of `ReportData`: `render_html` (inline CSS and inline SVG,
no scripts, fonts or external references), `write`, and `render_terminal` (the key numbers).
Charts are drawn in jobs/report_charts.py and jobs/report_maps.py. Revenue is in EUR; shares
and rates are fractions 0..1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from jobs import report_charts as charts
from jobs import report_maps as maps
from jobs.summary import (
    _CSS,
    _E,
    MIXED,
    Summary,
    _card,
    _period,
    fmt_csat,
    fmt_int,
    fmt_money,
    fmt_nps,
    fmt_pct,
    funnel_stages,
    summarize,
)

SQL_DIR = Path(__file__).parent / "sql" / "report"
TITLE = "Parcours — customer journey report"

# Column names and types of each chart's frame: the SQL file of the same name returns exactly
# these columns, and empty results keep their types (renderers never see untyped nulls).
FRAMES: dict[str, dict[str, Any]] = {
    "funnel": {"step": pl.Int64, "event_type": pl.String, "persons": pl.Int64},
    "transitions": {
        "from_touchpoint": pl.String,
        "from_channel": pl.String,
        "to_touchpoint": pl.String,
        "to_channel": pl.String,
        "transitions": pl.Int64,
        "persons": pl.Int64,
        "from_order": pl.Float64,
        "to_order": pl.Float64,
    },
    "satisfaction": {
        "touchpoint": pl.String,
        "stage": pl.String,
        "responses_csat": pl.Int64,
        "csat_avg": pl.Float64,
        "responses_nps": pl.Int64,
        "nps": pl.Float64,
    },
    "attribution": {
        "model": pl.String,
        "channel": pl.String,
        "credit": pl.Float64,
        "revenue_credit": pl.Float64,
    },
    "pareto": {
        "touchpoint": pl.String,
        "influenced_revenue": pl.Float64,
        "share": pl.Float64,
        "cumulative_share": pl.Float64,
        "rank": pl.Int64,
    },
    "daily": {
        "day": pl.Date,
        "events": pl.Int64,
        "conversions": pl.Int64,
        "revenue": pl.Float64,
        "csat_avg": pl.Float64,
    },
    "dropoffs": {
        "touchpoint": pl.String,
        "channel": pl.String,
        "stage": pl.String,
        "journeys_ended": pl.Int64,
        "share": pl.Float64,
    },
    "moments": {
        "touchpoint": pl.String,
        "responses": pl.Int64,
        "repurchase_rate_satisfied": pl.Float64,
        "repurchase_rate_dissatisfied": pl.Float64,
        "separation": pl.Float64,
        "satisfied_responses": pl.Int64,
        "dissatisfied_responses": pl.Int64,
    },
}

SECTIONS = {
    "funnel": "Purchase funnel",
    "transitions": "Top paths between touchpoints",
    "satisfaction": "Satisfaction by touchpoint and stage",
    "attribution": "Attribution by model",
    "pareto": "Touchpoints by influenced revenue (Pareto)",
    "daily": "Daily trends",
    "dropoffs": "Where journeys break off",
    "moments": "Moments of truth",
}


@dataclass(frozen=True)
class ReportData:
    summary: Summary
    funnel: pl.DataFrame
    """(step, event_type, persons): persons reaching each funnel step, in step order."""
    transitions: pl.DataFrame
    """(from_touchpoint, from_channel, to_touchpoint, to_channel, transitions, persons,
    from_order, to_order): orders are the touchpoints' average rank of first appearance."""
    satisfaction: pl.DataFrame
    """(touchpoint, stage, responses_csat, csat_avg, responses_nps, nps) over the period."""
    attribution: pl.DataFrame
    """(model, channel, credit, revenue_credit) summed over conversions."""
    pareto: pl.DataFrame
    """(touchpoint, influenced_revenue, share, cumulative_share, rank)."""
    daily: pl.DataFrame
    """(day, events, conversions, revenue, csat_avg)."""
    dropoffs: pl.DataFrame
    """(touchpoint, channel, stage, journeys_ended, share), most journeys ended first."""
    moments: pl.DataFrame
    """(touchpoint, responses, repurchase_rate_satisfied, repurchase_rate_dissatisfied,
    separation), largest separation first."""


def frame(name: str, rows: list[tuple[Any, ...]] | None = None) -> pl.DataFrame:
    """A chart's frame from row tuples, with the declared types (NaN -> null)."""
    df = pl.DataFrame(rows or [], schema=FRAMES[name], orient="row", strict=False)
    return df.with_columns(pl.col(pl.Float64).fill_nan(None))  # avg() of nothing is NaN


def empty(summary: Summary) -> ReportData:
    return ReportData(summary, **{name: frame(name) for name in FRAMES})


def _query(client: Any, name: str) -> pl.DataFrame:
    result = client.query((SQL_DIR / f"{name}.sql").read_text())
    return frame(name, [tuple(row) for row in result.result_rows])


def load(client: Any) -> ReportData:
    return ReportData(summarize(client), **{name: _query(client, name) for name in FRAMES})


# ---- key findings (terminal and HTML) --------------------------------------------------------

NO_DATA = "no data yet"


def _first(df: pl.DataFrame, by: str) -> dict[str, Any] | None:
    """The row with the largest `by` (ties: first touchpoint/channel by name), if any."""
    if not df.height:
        return None
    name = "touchpoint" if "touchpoint" in df.columns else "channel"
    return df.sort([by, name], descending=[True, False], nulls_last=True).row(0, named=True)


def _top_touchpoints(pareto: pl.DataFrame, currency: str) -> str:
    top = pareto.sort("rank").head(3).rows(named=True)
    return ", ".join(
        f"{r['touchpoint']} {fmt_money(r['influenced_revenue'] or 0, currency)} "
        f"({fmt_pct(r['share'] or 0)})"
        for r in top
    )


def _best_channel(attribution: pl.DataFrame, currency: str) -> str:
    best = _first(attribution.filter(pl.col("model") == "markov"), "credit")
    if best is None:
        return ""
    return (
        f"{best['channel']}: {best['credit'] or 0:,.1f} conversions, "
        f"{fmt_money(best['revenue_credit'] or 0, currency)}"
    )


def _biggest_dropoff(dropoffs: pl.DataFrame) -> str:
    d = _first(dropoffs, "journeys_ended")
    if d is None:
        return ""
    return (
        f"{d['touchpoint']} ({d['channel']}, {d['stage']}): "
        f"{fmt_int(d['journeys_ended'])} journeys, {fmt_pct(d['share'] or 0)} of unconverted ends"
    )


def _rate(x: float | None) -> str:
    """A 0..1 rate as a percentage; the views give NULL when nobody is on that side."""
    return "n/a" if x is None else fmt_pct(x)


def _points(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.1f} pts"


def _top_moment(moments: pl.DataFrame) -> str:
    """The first ranked (moments.sql: enough answers on both sides first), with its answers."""
    ranked = moments.drop_nulls("separation")
    if not ranked.height:
        return ""
    m = ranked.row(0, named=True)
    return (
        f"{m['touchpoint']}: repurchase {_rate(m['repurchase_rate_satisfied'])} if satisfied"
        f" vs {_rate(m['repurchase_rate_dissatisfied'])} if not ({_points(m['separation'])};"
        f" {m['satisfied_responses']} satisfied, {m['dissatisfied_responses']} dissatisfied answers)"
    )


def highlights(data: ReportData) -> list[tuple[str, str]]:
    """(label, sentence) for the findings a CX team reads first; 'no data yet' when missing."""
    currency = data.summary.currency
    return [
        ("Top touchpoints by influenced revenue", _top_touchpoints(data.pareto, currency) or NO_DATA),
        ("Best channel by Markov credit", _best_channel(data.attribution, currency) or NO_DATA),
        ("Biggest drop-off", _biggest_dropoff(data.dropoffs) or NO_DATA),
        ("Top moment of truth", _top_moment(data.moments) or NO_DATA),
    ]


# ---- terminal --------------------------------------------------------------------------------


def render_terminal(data: ReportData) -> str:
    s = data.summary
    pairs = [
        ("events", fmt_int(s.events)),
        ("persons", fmt_int(s.persons)),
        ("sessions", fmt_int(s.sessions)),
        ("conversions", fmt_int(s.conversions)),
        ("CSAT", fmt_csat(s.csat_avg)),
        ("NPS", fmt_nps(s.nps)),
    ]
    lw = max(len(label) for label, _v in pairs)
    vw = max(len(value) for _l, value in pairs)
    lines = [f"Parcours journey report ({_period(s)})"]
    for i in range(0, len(pairs), 2):
        cells = [f"{label.ljust(lw)}  {value.rjust(vw)}" for label, value in pairs[i : i + 2]]
        lines.append("  " + "    ".join(cells))
    # on a line of its own: several currencies make it long, and the grid is not padded to it
    lines.append(f"  {'revenue'.ljust(lw)}  {s.revenue_text()}")
    lines.append("")
    lines += [f"  {label}: {sentence}" for label, sentence in highlights(data)]
    return "\n".join(lines)


# ---- HTML ------------------------------------------------------------------------------------

_REPORT_CSS = """
.note { color:var(--muted); font-size:12px; margin-top:8px; }
.legend { flex-wrap: wrap; align-items:center; }
.legend .ramp { display:inline-block; width:140px; height:10px; border-radius:3px; }
.highlights { display:grid; grid-template-columns: repeat(2, 1fr); gap:8px 24px; margin:0;
  padding:0; list-style:none; }
.highlights li { padding:6px 0; border-bottom:1px solid var(--line); }
.highlights .label { color:var(--muted); font-size:12px; text-transform:uppercase;
  letter-spacing:.05em; display:block; }
td .share { margin-right:8px; }
.cards { grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); }
.grid2 { grid-template-columns: minmax(0, 1fr) minmax(0, 1.1fr); }
.grid2 section { overflow-x: auto; }
.grid2 th { white-space: normal; vertical-align: bottom; font-size: 11px; padding: 6px 5px; }
.grid2 td { padding: 7px 5px; }
.grid2 td:first-child { white-space: normal; overflow-wrap: break-word; }
.card .value { font-size: 22px; }
"""


def _section(key: str, body: str, sub: str = "", cls: str = "row") -> str:
    sub_html = f' <span class="sub">{_E(sub)}</span>' if sub else ""
    return (
        f'<section class="{cls}" id="{key}"><h2>{_E(SECTIONS[key])}{sub_html}</h2>{body}</section>'
    )


def _table(head: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    """Cells are HTML already (escaped by the caller); head is plain text."""
    th = "".join(
        f'<th class="num">{_E(h)}</th>' if i in numeric else f"<th>{_E(h)}</th>"
        for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _bar(fraction: float, top: float) -> str:
    """An inline share bar, relative to the largest share in the table."""
    width = 36 * max(0.0, fraction) / top if top > 0 else 0.0
    return f'<span class="share" style="width:{width:.0f}px"></span>'


def dropoffs_table(dropoffs: pl.DataFrame) -> str:
    if not dropoffs.height:
        return charts.placeholder("no journey has ended yet")
    top = float(dropoffs["share"].fill_null(0).max() or 0)  # type: ignore[arg-type]
    rows = [
        [
            f"<strong>{_E(r['touchpoint'])}</strong>",
            f'{_E(r["channel"])} <span class="sub">· {_E(r["stage"])}</span>',
            _E(fmt_int(r["journeys_ended"])),
            _bar(r["share"] or 0, top) + _E(fmt_pct(r["share"] or 0)),
        ]
        for r in dropoffs.rows(named=True)
    ]
    return _table(["Touchpoint", "Channel · stage", "Journeys ended", "Share"], rows, {2, 3})


def moments_table(moments: pl.DataFrame) -> str:
    if not moments.height:
        return charts.placeholder("no survey answers linked to repurchases")
    rows = [
        [
            f"<strong>{_E(r['touchpoint'])}</strong>",
            _E(fmt_int(r["responses"])),
            _E(_rate(r["repurchase_rate_satisfied"])),
            _E(_rate(r["repurchase_rate_dissatisfied"])),
            _E(_points(r["separation"])),
        ]
        for r in moments.rows(named=True)
    ]
    head = [
        "Touchpoint",
        "Responses",
        "Repurchase, satisfied",
        "Repurchase, dissatisfied",
        "Separation",
    ]
    return _table(head, rows, {1, 2, 3, 4})


def _cards(s: Summary) -> str:
    # the share of sessions that converted, as v_kpi_daily's conversion rate (a session buying twice is one)
    rate = f"{fmt_pct(s.converted_sessions / s.sessions)} of sessions converted" if s.sessions else ""
    return "".join(
        [
            _card("Events", fmt_int(s.events)),
            _card("Persons", fmt_int(s.persons)),
            _card("Sessions", fmt_int(s.sessions), f"bounce rate {fmt_pct(s.bounce_rate)}"),
            _card("Conversions", fmt_int(s.conversions), rate),
            _card(f"Revenue ({s.currency})" if s.currency else "Revenue", fmt_money(s.revenue),
                  "" if s.currency or not s.revenue_by_currency else MIXED),
            _card("CSAT", fmt_csat(s.csat_avg), "average, 1–5"),
            _card("NPS", fmt_nps(s.nps), "promoters − detractors"),
        ]
    )


def render_html(data: ReportData, title: str = TITLE) -> str:
    s = data.summary
    findings = "".join(
        f'<li><span class="label">{_E(label)}</span>{_E(text)}</li>'
        for label, text in highlights(data)
    )
    body = f"""<main>
<header>
  <div><h1>{_E(title)}</h1><div class="sub">Customer journeys · {_E(_period(s))} (UTC)</div></div>
  <div class="sub">{_E(f"Revenue in {s.currency}" if s.currency else f"Revenue {MIXED}")}</div>
</header>
<div class="cards">{_cards(s)}</div>
<section class="row"><h2>Key findings</h2><ul class="highlights">{findings}</ul></section>
{_section("funnel", charts.funnel_chart(data.funnel), "persons, 7-day window")}
{_section("transitions", maps.sankey_chart(data.transitions), "touchpoint → next touchpoint")}
{
        _section(
            "satisfaction",
            maps.heatmap_chart(data.satisfaction, funnel_stages()),
            "colour = CSAT, label = CSAT · NPS",
        )
    }
{
        _section(
            "attribution",
            charts.attribution_chart(data.attribution),
            "conversions credited to each channel",
        )
    }
{_section("pareto", charts.pareto_chart(data.pareto, s.currency), "the vital few touchpoints")}
{_section("daily", charts.trends_chart(data.daily, s.currency), "per UTC day")}
<div class="grid2 row">
{_section("dropoffs", dropoffs_table(data.dropoffs), "last touchpoint of unconverted journeys", "")}
{_section("moments", moments_table(data.moments), "repurchase after a good vs bad experience", "")}
</div>
<footer>Generated by Parcours from the parcours.v_* views.</footer>
</main>"""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_E(title)}</title>\n<style>{_CSS}{_REPORT_CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def write(data: ReportData, path: Path | str, title: str = TITLE) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(data, title), encoding="utf-8")
    return path
