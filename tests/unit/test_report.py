"""jobs.report renderers on hand-made frames (no ClickHouse): every chart renders, numbers and
markers show, text is escaped, nothing external is referenced, empty data gives placeholders.
`sample_data()` is shared with tests/integration/test_report_render.py."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from jobs import report
from jobs.report import SECTIONS, ReportData, frame, render_html, render_terminal, write
from jobs.report_charts import pareto_cut
from jobs.report_maps import csat_color, sankey_links
from jobs.summary import Summary

EVIL = "<script>alert(1)</script>"
DAY0 = date(2026, 11, 2)
# average rank at which persons first meet each touchpoint (the Sankey's left-to-right order)
ORDER = {"display_banner": 1.0, "social_post": 1.0, "entrance": 1.0, "newsletter": 1.1,
         "app_home": 1.2, EVIL: 1.3, "reviews": 1.8, "kiosk": 2.0, "product_page": 2.2,
         "search": 2.9, "checkout_counter": 3.0, "chat_widget": 3.1, "cart": 3.3,
         "checkout": 4.1, "carrier": 5.0, "post_purchase": 5.5}  # fmt: skip
MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "markov")


def sample_summary() -> Summary:
    daily = [
        (DAY0 + timedelta(days=i), 900 + 40 * i, 210 + 9 * i, 14 + i, 1400.0 + 95 * i)
        for i in range(14)
    ]
    return Summary(
        events=sum(d[1] for d in daily),
        persons=2000,
        sessions=sum(d[2] for d in daily),
        conversions=sum(d[3] for d in daily),
        revenue=sum(d[4] for d in daily),
        dead_letters=3,
        dead_letter_reasons=[("invalid_json", 3)],
        top_touchpoints=[],
        top_channels=[],
        daily=daily,
        stages=[],
        avg_session_events=4.2,
        bounce_rate=0.31,
        csat_avg=3.87,
        nps=12.5,
        revenue_by_currency=(("EUR", sum(d[4] for d in daily)),),
    )


def _pareto_rows() -> list[tuple[str, float, float, float, int]]:
    revenue = {
        "checkout": 41000.0,
        "product_page": 23000.0,
        "checkout_counter": 17500.0,
        "cart": 9000.0,
        "display_banner": 6100.0,
        "newsletter": 4200.0,
        "app_home": 2600.0,
        "hotline": 1500.0,
        EVIL: 900.0,
        "chat_widget": 700.0,
        "post_purchase": 300.0,
        "e_invoice": 200.0,
    }
    total, running, rows = sum(revenue.values()), 0.0, []
    for rank, (tp, rev) in enumerate(revenue.items(), start=1):
        running += rev
        rows.append((tp, rev, rev / total, running / total, rank))
    return rows


def sample_data() -> ReportData:
    steps = [
        ("ad_click", 1200),
        ("product_view", 860),
        ("add_to_cart", 410),
        ("checkout", 260),
        ("purchase", 198),
    ]
    links = [
        ("product_page", "web", "product_page", "web", 900),  # self-loop: never drawn
        ("display_banner", "ads", "product_page", "web", 820),
        ("product_page", "web", "cart", "web", 520),
        ("newsletter", "email", "product_page", "web", 410),
        ("app_home", "app", "product_page", "app", 300),
        ("cart", "web", "checkout", "web", 300),
        ("entrance", "store", "kiosk", "store", 260),
        ("checkout", "web", "carrier", "delivery", 200),
        ("kiosk", "store", "checkout_counter", "store", 180),
        ("product_page", "web", "search", "web", 150),
        ("search", "web", "product_page", "web", 140),  # closes a cycle: left out
        ("social_post", "social", "reviews", "review_site", 80),
        ("reviews", "review_site", "product_page", "web", 70),
        ("product_page", "web", "chat_widget", "chat", 60),
        ("checkout_counter", "store", "post_purchase", "survey", 45),
        ("chat_widget", "chat", "cart", "web", 30),
        (EVIL, "web", "product_page", "web", 25),
    ]
    satisfaction: list[tuple[object, ...]] = []
    for i, (tp, stage) in enumerate(
        [
            ("product_page", "consideration"),
            ("cart", "purchase"),
            ("checkout", "purchase"),
            ("checkout_counter", "purchase"),
            ("carrier", "purchase"),
            ("hotline", "service"),
            ("chat_widget", "service"),
            ("e_invoice", "service"),
            ("post_purchase", "loyalty"),
            ("product_page", "purchase"),
            ("hotline", "loyalty"),
            (EVIL, "awareness"),
        ]
    ):
        csat = 1.4 + (i * 0.37) % 3.6
        satisfaction.append((tp, stage, 40 + 7 * i, csat, 30 + 5 * i, (csat - 3) * 40))
    satisfaction.append(("newsletter", "awareness", 0, None, 12, -8.0))  # NPS only
    channels = {
        "ads": 60.0,
        "web": 48.0,
        "email": 30.0,
        "store": 26.0,
        "app": 18.0,
        "social": 9.0,
        "review_site": 7.0,
    }
    attribution = []
    for m, model in enumerate(MODELS):
        for c, (ch, base) in enumerate(channels.items()):
            credit = (
                base
                * (1 + 0.25 * ((m + c) % 3 - 1))
                * (0.45 if model == "markov" and c == 0 else 1)
            )
            attribution.append((model, ch, credit, credit * 71.5))
    daily = [
        (d, ev, co, rev, 3.6 + 0.05 * (i % 5))
        for i, (d, ev, _s, co, rev) in enumerate(sample_summary().daily)
    ]
    dropoffs = [
        ("product_page", "web", "consideration", 540, 0.36),
        ("cart", "web", "purchase", 310, 0.21),
        (EVIL, "web", "awareness", 200, 0.13),
        ("display_banner", "ads", "awareness", 190, 0.13),
        ("hotline", "call_center", "service", 120, 0.08),
    ]
    moments = [
        ("hotline", 240, 0.72, 0.31, 0.41, 150, 60),
        ("carrier", 410, 0.66, 0.35, 0.31, 300, 80),
        ("checkout", 530, 0.61, 0.42, 0.19, 400, 90),
        (EVIL, 35, 0.5, 0.45, 0.05, 20, 10),
        ("e_invoice", 12, None, 0.4, None, 0, 9),  # nobody satisfied: the view gives NULLs
    ]
    return ReportData(
        summary=sample_summary(),
        funnel=frame("funnel", [(i + 1, name, n) for i, (name, n) in enumerate(steps)]),
        transitions=frame(
            "transitions",
            [(a, ac, b, bc, n, n // 2, ORDER[a], ORDER[b]) for a, ac, b, bc, n in links],
        ),
        satisfaction=frame("satisfaction", satisfaction),
        attribution=frame("attribution", attribution),
        pareto=frame("pareto", _pareto_rows()),
        daily=frame("daily", daily),
        dropoffs=frame("dropoffs", dropoffs),
        moments=frame("moments", moments),
    )


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(sample_data())


def _section(html: str, key: str) -> str:
    match = re.search(rf'<section class="[^"]*" id="{key}">(.*?)</section>', html, re.S)
    assert match, f"section {key} missing"
    return match.group(1)


def test_every_section_has_its_title_and_charts_have_svg(page: str) -> None:
    for key, title in SECTIONS.items():
        body = _section(page, key)
        assert title in body
        if key not in ("dropoffs", "moments"):
            assert "<svg" in body, key
            assert 'class="legend"' in body, f"{key} has no legend"
            assert "No data yet" not in body
    assert "<table>" in _section(page, "dropoffs") and "<table>" in _section(page, "moments")


def test_numbers_appear(page: str) -> None:
    funnel = _section(page, "funnel")
    for n in ("1,200", "860", "410", "260", "198"):
        assert f"{n} persons" in funnel
    assert "71.7% from previous step" in funnel  # 860 / 1200
    pareto = _section(page, "pareto")
    assert "80% of influenced revenue" in pareto
    assert "4 of 12 touchpoints reach 80%" in pareto
    assert "markov" not in _section(page, "funnel")
    assert all(m.replace("_", " ") in _section(page, "attribution") for m in MODELS)
    assert "NPS +" in _section(page, "satisfaction")
    assert "+41.0 pts" in _section(page, "moments") and "n/a" in _section(page, "moments")
    assert "540" in _section(page, "dropoffs")
    assert "16,240" in page  # events card (sum of the daily events)


def test_text_is_escaped_and_nothing_external(page: str) -> None:
    assert "<script" not in page
    assert "&lt;script&gt;" in _section(page, "transitions")
    assert "&lt;script&gt;" in _section(page, "dropoffs")
    assert re.findall(r"https?://", page) == []
    assert "@import" not in page and "url(" not in page


def test_pareto_cut_and_sankey_links() -> None:
    data = sample_data()
    assert pareto_cut(data.pareto) == 4
    links, column = sankey_links(data.transitions)
    pairs = {(a, b) for a, b, _n in links}
    assert ("product_page", "product_page") not in pairs  # self-loop
    assert ("search", "product_page") not in pairs  # back to an earlier touchpoint
    assert ("display_banner", "product_page") in pairs and len(links) <= 25
    assert all(column[a] < column[b] for a, b, _n in links)  # every band flows to the right
    assert set(column.values()) == {0, 1, 2, 3}
    assert column["display_banner"] == 0 and column["checkout"] == 3
    assert csat_color(1) == "#e15759" and csat_color(5) == "#59a14f"


def test_empty_data_renders_placeholders() -> None:
    html = render_html(report.empty(sample_summary()))
    for key in SECTIONS:
        assert "No data yet" in _section(html, key), key
    assert "<svg" not in html


def test_terminal_has_the_key_numbers() -> None:
    text = render_terminal(sample_data())
    for needle in (
        "16,240",
        "2,000",
        "3.87",
        "+12.5",
        "checkout 41,000.00 EUR",
        "Best channel by Markov credit: web",
        "Biggest drop-off: product_page",
        "Top moment of truth: hotline",
        "150 satisfied, 60 dissatisfied answers",
    ):
        assert needle in text, needle
    empty_text = render_terminal(report.empty(sample_summary()))
    assert "no data yet" in empty_text


def test_several_currencies_are_not_labelled_as_one() -> None:
    """Revenue is summed over currencies without conversion: no single currency may label it."""
    mixed = replace(sample_summary(), revenue=300.0,
                    revenue_by_currency=(("EUR", 200.0), ("USD", 60.0), ("", 40.0)))
    data = replace(sample_data(), summary=mixed)
    for text in (render_terminal(data), render_html(data)):
        assert "EUR" not in text.replace("200.00 EUR", "")
        assert "USD" not in text.replace("60.00 USD", "")
    assert "300.00 = 200.00 EUR, 60.00 USD, 40.00 (no currency), summed without conversion" in (
        render_terminal(data))
    widest = max(len(line) for line in render_terminal(data).splitlines() if "persons" in line or "NPS" in line)
    assert widest < 60  # the key numbers' grid is not padded to the width of a long revenue
    assert "checkout 41,000.00 EUR" in render_terminal(sample_data())
    assert mixed.currency == "" and sample_summary().currency == "EUR"


def test_the_conversion_card_gives_the_share_of_sessions_that_converted() -> None:
    """As v_kpi_daily's rate: a session that bought twice is one converted session."""
    summary = replace(sample_summary(), sessions=200, conversions=30, converted_sessions=20)
    html = render_html(replace(sample_data(), summary=summary))
    assert "10.0% of sessions converted" in html and "15.0%" not in html


def test_write_creates_the_file(tmp_path: Path) -> None:
    path = write(sample_data(), tmp_path / "out" / "report.html")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_frame_keeps_types_when_empty() -> None:
    assert frame("daily").schema["day"] == pl.Date
    assert frame("pareto", [("a", float("nan"), 0.1, 0.1, 1)])["influenced_revenue"][0] is None
