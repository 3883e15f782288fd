"""Journey summary: headline numbers from ClickHouse, as terminal text or one self-contained
HTML page.

`summarize(client)` runs the queries in jobs/sql/summary/*.sql (one SELECT each, reading only
the stable `parcours.v_*` views and `parcours.dead_letters`); conversion event types and the
stage funnel order come from schemas/taxonomy.toml and are passed as server-side query
parameters. `render_terminal` prints a compact aligned text block; `write_html` writes one HTML
file with inline CSS and inline SVG charts (no scripts, fonts or any external reference).
Revenue is reported in EUR.
"""

from __future__ import annotations

import html
import math
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from pipeline import SCHEMAS
from pipeline.taxonomy import taxonomy

SQL_DIR = Path(__file__).parent / "sql" / "summary"
CURRENCY = "EUR"


@dataclass(frozen=True)
class Summary:
    events: int
    persons: int
    sessions: int
    conversions: int
    """Events whose event_type is a conversion type (taxonomy `conversion_event_types`)."""
    revenue: float
    """Sum of the revenue of conversion events, EUR."""
    dead_letters: int
    dead_letter_reasons: list[tuple[str, int]]
    """(reason code = text before ':', count), most frequent first."""
    top_touchpoints: list[tuple[str, str, int, int, float]]
    """(touchpoint, channel, events, persons, revenue), top 10 by events."""
    top_channels: list[tuple[str, str, str, int, int, int, int, float]]
    """(channel, category, ownership, events, persons, sessions, conversions, revenue) by events."""
    daily: list[tuple[date, int, int, int, float]]
    """(UTC day, events, sessions started, conversions, revenue), by day."""
    stages: list[tuple[str, int, int]]
    """(stage, events, persons) in funnel order."""
    avg_session_events: float
    bounce_rate: float
    """Sessions with exactly one event / sessions (0.0 without sessions)."""
    csat_avg: float | None
    nps: float | None
    """% promoters (9-10) minus % detractors (0-6) among answered NPS, -100..100."""


def load_sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


@cache
def funnel_stages() -> tuple[str, ...]:
    """The journey stages in funnel order, as listed in schemas/taxonomy.toml."""
    with (SCHEMAS / "taxonomy.toml").open("rb") as handle:
        return tuple(tomllib.load(handle).get("stages", ()))


def _rows(
    client: Any, name: str, parameters: dict[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in client.query(load_sql(name), parameters=parameters).result_rows]


def _float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def summarize(client: Any) -> Summary:
    tax = taxonomy()
    types = {"types": sorted(tax.conversion_event_types)}

    events, persons, conversions, revenue, csat_avg, nps = _rows(client, "totals", types)[0]
    sessions, avg_session_events, bounces = _rows(client, "sessions")[0]
    reasons = [(str(code), int(n)) for code, n in _rows(client, "dead_letters")]

    touchpoints = [
        (str(tp), str(ch), int(ev), int(pe), float(rev))
        for tp, ch, ev, pe, rev in _rows(client, "top_touchpoints", types)
    ]
    channels = []
    for ch, ev, pe, se, co, rev in _rows(client, "channels", types):
        known = tax.channels.get(ch)
        category, ownership = (known.category, known.ownership) if known else ("unknown", "unknown")
        channels.append(
            (str(ch), category, ownership, int(ev), int(pe), int(se), int(co), float(rev))
        )
    daily = [
        (day, int(ev), int(se), int(co), float(rev))
        for day, ev, se, co, rev in _rows(client, "daily", types)
    ]
    stages = [
        (str(stage), int(ev), int(pe))
        for stage, ev, pe in _rows(client, "stages", {"stages": list(funnel_stages())})
    ]
    sessions = int(sessions)
    return Summary(
        events=int(events),
        persons=int(persons),
        sessions=sessions,
        conversions=int(conversions),
        revenue=float(revenue or 0.0),
        dead_letters=sum(n for _, n in reasons),
        dead_letter_reasons=reasons,
        top_touchpoints=touchpoints,
        top_channels=channels,
        daily=daily,
        stages=stages,
        avg_session_events=(_float(avg_session_events) or 0.0) if sessions else 0.0,
        bounce_rate=int(bounces) / sessions if sessions else 0.0,
        csat_avg=_float(csat_avg),
        nps=_float(nps),
    )


# ---- formatting ---------------------------------------------------------------------------


def fmt_int(n: int) -> str:
    return f"{n:,}"


def fmt_money(x: float) -> str:
    return f"{x:,.2f}"


def fmt_pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def fmt_csat(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def fmt_nps(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.1f}"


def _period(summary: Summary) -> str:
    if not summary.daily:
        return "no events"
    first, last = summary.daily[0][0], summary.daily[-1][0]
    return f"{first.isoformat()} to {last.isoformat()}" if first != last else first.isoformat()


# ---- terminal -----------------------------------------------------------------------------


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], right: set[int]) -> list[str]:
    widths = [max(len(str(cell)) for cell in col) for col in zip(header, *rows, strict=False)]

    def line(cells: tuple[str, ...]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return ("  " + "  ".join(parts)).rstrip()

    return [line(header), *(line(r) for r in rows)]


def render_terminal(summary: Summary, max_channels: int = 10) -> str:
    s = summary
    reasons = ", ".join(f"{code} {fmt_int(n)}" for code, n in s.dead_letter_reasons[:3])
    if len(s.dead_letter_reasons) > 3:
        reasons += ", ..."
    head = [
        ("events", fmt_int(s.events), "persons", fmt_int(s.persons)),
        ("sessions", fmt_int(s.sessions), "conversions", fmt_int(s.conversions)),
        (
            "revenue",
            f"{fmt_money(s.revenue)} {CURRENCY}",
            "avg events/session",
            f"{s.avg_session_events:.2f}",
        ),
        ("bounce rate", fmt_pct(s.bounce_rate), "CSAT", fmt_csat(s.csat_avg)),
        ("NPS", fmt_nps(s.nps), "dead letters", fmt_int(s.dead_letters)),
    ]
    w = [max(len(row[i]) for row in head) for i in range(4)]
    lines = [f"Parcours journey summary ({_period(s)})"]
    lines += [
        f"  {a.ljust(w[0])}  {b.rjust(w[1])}    {c.ljust(w[2])}  {d.rjust(w[3])}"
        for a, b, c, d in head
    ]
    if reasons:
        lines.append(f"  dead letter reasons: {reasons}")

    if s.top_touchpoints:
        lines += ["", "Top touchpoints"]
        lines += _table(
            ("touchpoint", "channel", "events", "persons", f"revenue {CURRENCY}"),
            [
                (tp, ch, fmt_int(ev), fmt_int(pe), fmt_money(rev))
                for tp, ch, ev, pe, rev in s.top_touchpoints[:5]
            ],
            right={2, 3, 4},
        )
    if s.top_channels:
        lines += ["", "Channels"]
        lines += _table(
            (
                "channel",
                "category",
                "ownership",
                "events",
                "persons",
                "sessions",
                "conv.",
                f"revenue {CURRENCY}",
            ),
            [
                (ch, cat, own, fmt_int(ev), fmt_int(pe), fmt_int(se), fmt_int(co), fmt_money(rev))
                for ch, cat, own, ev, pe, se, co, rev in s.top_channels[:max_channels]
            ],
            right={3, 4, 5, 6, 7},
        )
        if len(s.top_channels) > max_channels:
            lines.append(f"  ... {len(s.top_channels) - max_channels} more channels")
    return "\n".join(lines)


# ---- HTML ---------------------------------------------------------------------------------

_E = html.escape

_COLORS = {
    "events": "#3b6fd8",
    "revenue": "#e07b39",
    "paid": "#d9534f",
    "owned": "#3b6fd8",
    "earned": "#2e9e6b",
    "unknown": "#8a94a6",
    "stage": "#6c5ce7",
    "dead": "#c0392b",
}

_CSS = """
:root { --bg:#f5f6f8; --card:#fff; --ink:#1d2433; --muted:#6b7385; --line:#e4e7ec;
  --accent:#3b6fd8; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); font: 14px/1.45 system-ui,
  -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 32px 28px 48px; }
header { display:flex; justify-content:space-between; align-items:flex-end; gap:16px;
  margin-bottom:22px; }
h1 { font-size: 24px; font-weight: 650; margin: 0; letter-spacing: -0.01em; }
h2 { font-size: 15px; font-weight: 600; margin: 0 0 14px; }
.sub { color: var(--muted); font-size: 13px; font-weight: 400; }
.cards { display:grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap:12px;
  margin-bottom:18px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px;
  padding:14px 16px; }
.card .label { color:var(--muted); font-size:12px; text-transform:uppercase;
  letter-spacing:.05em; }
.card .value { font-size:24px; white-space:nowrap; font-weight:650; margin-top:4px;
  font-variant-numeric: tabular-nums; }
.card .note { color:var(--muted); font-size:12px; margin-top:2px; }
section { background:var(--card); border:1px solid var(--line); border-radius:10px;
  padding:18px 20px; margin-bottom:18px; }
.grid2 { display:grid; grid-template-columns: 1fr 1fr; gap:18px; }
.grid2 section { margin-bottom:0; }
.row { margin-bottom:18px; }
svg { display:block; width:100%; height:auto; }
svg text { font-family: inherit; }
table { width:100%; border-collapse:collapse; font-variant-numeric: tabular-nums; }
th, td { padding:8px 10px; border-bottom:1px solid var(--line); text-align:left;
  white-space:nowrap; }
th { color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase;
  letter-spacing:.04em; }
td.num, th.num { text-align:right; }
tr:last-child td { border-bottom:none; }
.pill { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px;
  border:1px solid; }
.share { display:inline-block; height:8px; border-radius:4px; background:var(--accent);
  opacity:.75; vertical-align:middle; }
.legend { display:flex; gap:16px; color:var(--muted); font-size:12px; margin:-6px 0 10px; }
.legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:6px;
  vertical-align:-1px; }
.empty { color:var(--muted); padding:12px 0; }
footer { color:var(--muted); font-size:12px; text-align:center; margin-top:8px; }
"""


def _nice_ceiling(value: float, steps: int = 4) -> tuple[float, float]:
    """A round axis maximum >= value and its tick step."""
    if value <= 0:
        return 1.0, 1.0 / steps
    raw = value / steps
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        step = m * magnitude
        if step * steps >= value:
            return step * steps, step
    return 10 * magnitude * steps, 10 * magnitude


def _short(x: float) -> str:
    """Compact axis label: 1200 -> 1.2k."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= limit:
            return f"{x / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


def _legend(items: list[tuple[str, str]]) -> str:
    return (
        '<div class="legend">'
        + "".join(
            f'<span><i style="background:{color}"></i>{_E(label)}</span>' for label, color in items
        )
        + "</div>"
    )


def _daily_chart(daily: list[tuple[date, int, int, int, float]]) -> str:
    if not daily:
        return '<div class="empty">No events yet.</div>'
    by_day = {d: (ev, rev) for d, ev, _se, _co, rev in daily}
    first, last = daily[0][0], daily[-1][0]
    if (last - first).days <= 400:  # fill gaps so the x axis is linear in time
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    else:
        days = [d for d, *_ in daily]
    events = [by_day.get(d, (0, 0.0))[0] for d in days]
    revenue = [by_day.get(d, (0, 0.0))[1] for d in days]

    width, height = 1100, 280
    left, right, top, bottom = 56, 70, 16, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    ev_max, ev_step = _nice_ceiling(max(events))
    rev_max, rev_step = _nice_ceiling(max(revenue))
    n = len(days)
    slot = plot_w / n
    bar_w = max(1.0, min(36.0, slot * 0.62))

    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_E("Daily events (bars) and revenue (line)")}">'
    ]
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e4e7ec" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#6b7385">{_E(_short(ev_step * i))}</text>'
        )
        parts.append(
            f'<text x="{left + plot_w + 8}" y="{y + 4:.1f}" font-size="11" '
            f'fill="{_COLORS["revenue"]}">{_E(_short(rev_step * i))}</text>'
        )
    for i, (day, ev) in enumerate(zip(days, events, strict=True)):
        h = plot_h * ev / ev_max
        x = left + slot * i + (slot - bar_w) / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}" rx="2" '
            f'fill="{_COLORS["events"]}" fill-opacity="0.8"><title>{_E(day.isoformat())}: '
            f"{_E(fmt_int(ev))} events, {_E(fmt_money(revenue[i]))} {CURRENCY}</title></rect>"
        )
    points = " ".join(
        f"{left + slot * i + slot / 2:.1f},{top + plot_h - plot_h * rev / rev_max:.1f}"
        for i, rev in enumerate(revenue)
    )
    parts.append(
        f'<polyline points="{points}" fill="none" stroke="{_COLORS["revenue"]}" '
        f'stroke-width="2.5" stroke-linejoin="round" stroke-linecap="round"/>'
    )
    for i, rev in enumerate(revenue):
        cx, cy = left + slot * i + slot / 2, top + plot_h - plot_h * rev / rev_max
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="#fff" '
            f'stroke="{_COLORS["revenue"]}" stroke-width="2"/>'
        )
    label_every = max(1, math.ceil(n / 12))
    for i, day in enumerate(days):
        if i % label_every == 0:
            parts.append(
                f'<text x="{left + slot * i + slot / 2:.1f}" y="{height - 12}" '
                f'text-anchor="middle" font-size="11" fill="#6b7385">'
                f"{_E(day.strftime('%b %d'))}</text>"
            )
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" '
        f'stroke="#c9ced8" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return _legend(
        [("Events", _COLORS["events"]), (f"Revenue ({CURRENCY}, right axis)", _COLORS["revenue"])]
    ) + "".join(parts)


def _clip(text: str, room: int) -> str:
    return text if len(text) <= room else text[: max(1, room - 1)] + "…"


def _hbars(
    rows: list[tuple[str, str, float, str, str]],
    label_w: int = 190,
    empty: str = "No data.",
    width: int = 520,
) -> str:
    """Horizontal bars: (label, sub-label, value, value text, color) per row. `width` is the
    viewBox width: use about the rendered width in px so text keeps its size."""
    if not rows:
        return f'<div class="empty">{_E(empty)}</div>'
    row_h = 30
    value_w = 14 + 7 * max(len(r[3]) for r in rows)  # ~7 px per character at 12 px
    height = row_h * len(rows) + 4
    bar_area = width - label_w - value_w
    top = max(r[2] for r in rows) or 1.0
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img">']
    for i, (label, sub, value, text, color) in enumerate(rows):
        y = i * row_h + 2
        w = max(2.0, bar_area * value / top) if value > 0 else 0.0
        room = label_w // 7 - 1  # ~7 px per character at 12.5 px
        shown_label = _clip(label, room)
        shown_sub = (
            _clip(sub, room - len(shown_label) - 1) if sub and len(shown_label) < room - 3 else ""
        )
        parts.append(
            f"<g><title>{_E(label)}{_E(' (' + sub + ')' if sub else '')}</title>"
            f'<text x="0" y="{y + 19}" font-size="12.5" fill="#1d2433">{_E(shown_label)}'
            + (
                f'<tspan fill="#6b7385" font-size="11"> {_E(shown_sub)}</tspan>'
                if shown_sub
                else ""
            )
            + "</text></g>"
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 6}" width="{bar_area}" height="16" rx="3" '
            'fill="#f0f2f5"/>'
        )
        if w:
            parts.append(
                f'<rect x="{label_w}" y="{y + 6}" width="{w:.1f}" height="16" rx="3" '
                f'fill="{color}" fill-opacity="0.85"/>'
            )
        parts.append(
            f'<text x="{width}" y="{y + 19}" text-anchor="end" font-size="12" '
            f'fill="#1d2433">{_E(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _card(label: str, value: str, note: str = "") -> str:
    note_html = f'<div class="note">{_E(note)}</div>' if note else ""
    return (
        f'<div class="card"><div class="label">{_E(label)}</div>'
        f'<div class="value">{_E(value)}</div>{note_html}</div>'
    )


def _pill(text: str) -> str:
    color = _COLORS.get(text, _COLORS["unknown"])
    return f'<span class="pill" style="color:{color};border-color:{color}">{_E(text)}</span>'


def _channels_table(channels: list[tuple[str, str, str, int, int, int, int, float]]) -> str:
    if not channels:
        return '<div class="empty">No events yet.</div>'
    top = max(c[3] for c in channels) or 1
    head = (
        "Channel",
        "Category",
        "Ownership",
        "Events",
        "",
        "Persons",
        "Sessions",
        "Conversions",
        f"Revenue ({CURRENCY})",
    )
    numeric = {3, 5, 6, 7, 8}
    out = ["<table><thead><tr>"]
    out += [
        f'<th class="num">{_E(h)}</th>' if i in numeric else f"<th>{_E(h)}</th>"
        for i, h in enumerate(head)
    ]
    out.append("</tr></thead><tbody>")
    for ch, cat, own, ev, pe, se, co, rev in channels:
        share = 90 * ev / top
        out.append(
            f"<tr><td><strong>{_E(ch)}</strong></td><td>{_E(cat.replace('_', ' '))}</td>"
            f'<td>{_pill(own)}</td><td class="num">{_E(fmt_int(ev))}</td>'
            f'<td style="width:110px"><span class="share" style="width:{share:.0f}px"></span></td>'
            f'<td class="num">{_E(fmt_int(pe))}</td><td class="num">{_E(fmt_int(se))}</td>'
            f'<td class="num">{_E(fmt_int(co))}</td><td class="num">{_E(fmt_money(rev))}</td></tr>'
        )
    out.append("</tbody></table>")
    return "".join(out)


def render_html(summary: Summary, title: str = "Parcours — journey report") -> str:
    s = summary
    conv_rate = f"{fmt_pct(s.conversions / s.sessions)} of sessions" if s.sessions else ""
    top_reason = f"top: {s.dead_letter_reasons[0][0]}" if s.dead_letter_reasons else "none rejected"
    cards = "".join(
        [
            _card("Events", fmt_int(s.events)),
            _card("Persons", fmt_int(s.persons)),
            _card("Sessions", fmt_int(s.sessions), f"{s.avg_session_events:.1f} events / session"),
            _card("Conversions", fmt_int(s.conversions), conv_rate),
            _card(f"Revenue ({CURRENCY})", fmt_money(s.revenue), "conversion events"),
            _card("Bounce rate", fmt_pct(s.bounce_rate), "single-event sessions"),
            _card("CSAT", fmt_csat(s.csat_avg), "average score"),
            _card("NPS", fmt_nps(s.nps), "promoters − detractors"),
            _card("Dead letters", fmt_int(s.dead_letters), top_reason),
        ]
    )
    owners = {c[0]: c[2] for c in s.top_channels}
    touch_rows = [
        (
            tp,
            ch,
            float(ev),
            f"{fmt_int(ev)} ev · {fmt_int(pe)} pers.",
            _COLORS.get(owners.get(ch, "unknown"), _COLORS["unknown"]),
        )
        for tp, ch, ev, pe, _rev in s.top_touchpoints
    ]
    present = sorted({owners.get(ch, "unknown") for _tp, ch, *_ in s.top_touchpoints})
    touch_legend = (
        _legend([(o, _COLORS.get(o, _COLORS["unknown"])) for o in present]) if present else ""
    )
    stage_rows = [
        (stage, "", float(ev), f"{fmt_int(ev)} ev · {fmt_int(pe)} pers.", _COLORS["stage"])
        for stage, ev, pe in s.stages
    ]
    dead_rows = [
        (code, "", float(n), fmt_int(n), _COLORS["dead"]) for code, n in s.dead_letter_reasons
    ]

    body = f"""<main>
<header>
  <div><h1>{_E(title)}</h1><div class="sub">Customer journeys · {_E(_period(s))} (UTC)</div></div>
  <div class="sub">Revenue in {CURRENCY}</div>
</header>
<div class="cards">{cards}</div>
<section class="row"><h2>Daily trend</h2>{_daily_chart(s.daily)}</section>
<div class="grid2 row">
  <section><h2>Top touchpoints <span class="sub">by events, colour = ownership</span></h2>
  {touch_legend}
  {_hbars(touch_rows, empty="No events yet.")}</section>
  <section><h2>Journey stages <span class="sub">funnel order</span></h2>
  {_hbars(stage_rows, label_w=130, empty="No events yet.")}</section>
</div>
<section class="row"><h2>Channels</h2>{_channels_table(s.top_channels)}</section>
<section class="row"><h2>Dead letters by reason
  <span class="sub">{_E(fmt_int(s.dead_letters))} total</span></h2>
{_hbars(dead_rows, label_w=260, empty="No dead letters.", width=1100)}</section>
<footer>Generated by Parcours from the parcours.v_* views.</footer>
</main>"""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_E(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def write_html(summary: Summary, path: Path, title: str = "Parcours — journey report") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(summary, title), encoding="utf-8")
    return path
