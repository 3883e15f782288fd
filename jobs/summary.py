"""Journey summary: headline numbers from ClickHouse, as terminal text, plus the shared
formatting and styling helpers of the HTML report (jobs/report.py).

`summarize(client)` runs the queries in jobs/sql/summary/*.sql (one SELECT each, reading only
the stable `parcours.v_*` views and `parcours.dead_letters`); conversion event types and the
stage funnel order come from schemas/taxonomy.toml and are passed as server-side query
parameters. `render_terminal` prints a compact aligned text block.
Revenue is summed over currencies without conversion; the text names the currency only when
the conversions have one (`Summary.currency`).
"""

from __future__ import annotations

import html
import math
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from pipeline import SCHEMAS
from pipeline.taxonomy import taxonomy

SQL_DIR = Path(__file__).parent / "sql" / "summary"
MIXED = "summed without conversion"


@dataclass(frozen=True)
class Summary:
    events: int
    persons: int
    sessions: int
    conversions: int
    """Events whose event_type is a conversion type (taxonomy `conversion_event_types`)."""
    revenue: float
    """Sum of the revenue of conversion events, over every currency."""
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
    revenue_by_currency: tuple[tuple[str, float], ...] = ()
    """(currency, revenue of conversion events in it), largest first; '' = none given."""
    converted_sessions: int = 0
    """Sessions with at least one conversion (v_sessions.converted)."""

    @property
    def currency(self) -> str:
        """The unit of revenue figures: the conversions' one currency, else '' (several, or
        none, summed as plain numbers)."""
        codes = [code for code, _ in self.revenue_by_currency]
        return codes[0] if len(codes) == 1 else ""

    def revenue_text(self) -> str:
        """Total revenue with its unit; with several currencies, each with its own sum."""
        if self.currency or not self.revenue_by_currency:
            return fmt_money(self.revenue, self.currency)
        parts = ", ".join(f"{fmt_money(v)} {code or '(no currency)'}" for code, v in self.revenue_by_currency)
        return f"{fmt_money(self.revenue)} = {parts}, {MIXED}"


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
    sessions, avg_session_events, bounces, converted_sessions = _rows(client, "sessions")[0]
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
        revenue_by_currency=tuple(
            (str(code), float(value)) for code, value in _rows(client, "currencies", types)
        ),
        converted_sessions=int(converted_sessions),
    )


# ---- formatting ---------------------------------------------------------------------------


def fmt_int(n: int) -> str:
    return f"{n:,}"


def fmt_money(x: float, currency: str = "") -> str:
    """An amount, with its currency when there is one (Summary.currency)."""
    return f"{x:,.2f} {currency}".rstrip()


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
            s.revenue_text(),
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
            ("touchpoint", "channel", "events", "persons", f"revenue {s.currency}".rstrip()),
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
                f"revenue {s.currency}".rstrip(),
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


def _card(label: str, value: str, note: str = "") -> str:
    note_html = f'<div class="note">{_E(note)}</div>' if note else ""
    return (
        f'<div class="card"><div class="label">{_E(label)}</div>'
        f'<div class="value">{_E(value)}</div>{note_html}</div>'
    )


