"""Grafana dashboards (infra/grafana/dashboards/*.json) and their provisioning.

Every panel query is expanded the way the official ClickHouse plugin
(grafana-clickhouse-datasource, pkg/macros/macros.go) expands its macros, then run on the real
ClickHouse engine (chDB, every migration applied) over the journey dataset of
tests/integration/journeys_data.py plus pipeline rows (dead letters, barriers, identity
changes); it must run, return rows, and return exactly the columns its target declares
(`expectedColumns`, which the plugin ignores). A macro the expander does not know fails the
test: add it here, from the plugin's source, before using it in a dashboard.

The data source logs in as the BI user, whose role may read the parcours.v_* views and nothing
else (infra/clickhouse/0008_bi_access.sql): ClickHouse itself says which tables each panel reads
(EXPLAIN QUERY TREE), and each must be such a view, running with its definer's rights.

How fields are shown is read from the JSON (defaults, then byName overrides, as Grafana applies
them): a column named as a ratio, rate or share is a percentage of 0..1, CSAT sits on 1..5 and NPS
on -100..100, revenue (summed over currencies) carries no currency symbol and its panel says so;
with the column types ClickHouse reports (DESCRIBE), every number has a unit, every time an
explicit UTC zone, and a chart's fields of different units are on different axes.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "infra" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
PROVIDER = GRAFANA / "provisioning" / "dashboards" / "parcours.yaml"
DATASOURCE = GRAFANA / "provisioning" / "datasources" / "clickhouse.yaml"
PLUGIN = "grafana-clickhouse-datasource"

# The dashboard time range and interval the queries are expanded with: around the dataset.
FROM = datetime(2026, 10, 25, tzinfo=UTC)
TO = datetime(2027, 1, 1, tzinfo=UTC)
INTERVAL_S = 3600


# --- the plugin's macros ------------------------------------------------------------------


def _datetime(t: datetime) -> str:
    return f"toDateTime({int(t.timestamp())})"


def _date(t: datetime) -> str:
    return f"toDate('{t:%Y-%m-%d}')"


def _one(expand: Callable[[str], str]) -> Callable[[list[str]], str]:
    def macro(args: list[str]) -> str:
        if len(args) != 1:
            raise ValueError(f"expected 1 argument, received {len(args)}")
        return expand(args[0])
    return macro


#: name -> expansion, as in grafana/clickhouse-datasource pkg/macros/macros.go.
MACROS: dict[str, Callable[[list[str]], str]] = {
    "timeFilter": _one(lambda c: f"{c} >= {_datetime(FROM)} AND {c} <= {_datetime(TO)}"),
    "dateFilter": _one(lambda c: f"{c} >= {_date(FROM)} AND {c} <= {_date(TO)}"),
    "timeInterval": _one(lambda c: f"toStartOfInterval(toDateTime({c}), INTERVAL {INTERVAL_S} second)"),
    "interval_s": lambda args: str(INTERVAL_S),
    "fromTime": lambda args: _datetime(FROM),
    "toTime": lambda args: _datetime(TO),
}
_MACRO = re.compile(r"\$__(\w+)")


def expand(sql: str) -> str:
    """Replace every $__name or $__name(args) as the plugin does; unknown macros raise."""
    while match := _MACRO.search(sql):
        name, end = match.group(1), match.end()
        if name not in MACROS:
            raise KeyError(f"macro $__{name} is not expanded by this test (and maybe not by the plugin)")
        args: list[str] = []
        if end < len(sql) and sql[end] == "(":
            args, end = _arguments(sql, end)
        sql = sql[:match.start()] + MACROS[name](args) + sql[end:]
    if "$" in sql:
        raise ValueError(f"unexpanded template variable in {sql!r}")
    return sql


def _arguments(sql: str, start: int) -> tuple[list[str], int]:
    """The comma-separated arguments of the parenthesis at `start` (nesting allowed)."""
    depth, args, current = 0, [], start + 1
    for i in range(start, len(sql)):
        if sql[i] == "(":
            depth += 1
        elif sql[i] == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[current:i].strip())
                return [a for a in args if a], i + 1
        elif sql[i] == "," and depth == 1:
            args.append(sql[current:i].strip())
            current = i + 1
    raise ValueError(f"unbalanced parenthesis in {sql[start:start + 80]!r}")


def test_expander_matches_the_plugin() -> None:
    assert expand("WHERE $__timeFilter(e.occurred_at)") == (
        f"WHERE e.occurred_at >= toDateTime({int(FROM.timestamp())}) AND "
        f"e.occurred_at <= toDateTime({int(TO.timestamp())})")
    assert expand("$__timeInterval(toDateTime64(x, 3))") == (
        "toStartOfInterval(toDateTime(toDateTime64(x, 3)), INTERVAL 3600 second)")
    assert expand("$__dateFilter(day)") == "day >= toDate('2026-10-25') AND day <= toDate('2027-01-01')"
    assert expand("count() * 60 / $__interval_s") == "count() * 60 / 3600"
    with pytest.raises(KeyError):
        expand("$__conditionalAll(a = 1, $channel)")
    with pytest.raises(ValueError):
        expand("WHERE channel = $channel")
    with pytest.raises(ValueError):
        expand("$__timeFilter(a, b)")


# --- the dashboards -----------------------------------------------------------------------


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside (collapsed) rows."""
    for panel in items:
        yield panel
        yield from panels(panel.get("panels") or [])


def targets() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(dashboard file, panel, target) for every query of every dashboard."""
    return [(name, panel, target) for name, board in dashboards().items()
            for panel in panels(board["panels"]) for target in panel.get("targets") or []]


TARGETS = targets()


def test_three_dashboards_with_unique_uids() -> None:
    boards = dashboards()
    assert set(boards) == {"journeys", "touchpoints", "pipeline"}
    uids = [b["uid"] for b in boards.values()]
    assert len(set(uids)) == len(uids) and all(uids)
    titles = [b["title"] for b in boards.values()]
    assert len(set(titles)) == len(titles)
    for name, board in boards.items():
        ids = [p["id"] for p in panels(board["panels"])]
        assert len(set(ids)) == len(ids), f"{name}: duplicate panel ids"
        for panel in panels(board["panels"]):
            assert panel.get("title"), f"{name}: a panel without a title"


def test_rows_nest_panels() -> None:
    rows = [p for p in dashboards()["pipeline"]["panels"] if p["type"] == "row"]
    assert rows and all(r.get("panels") for r in rows)


@pytest.mark.parametrize(("name", "panel", "target"), TARGETS, ids=[f"{n}:{p['title']}" for n, p, _ in TARGETS])
def test_target_uses_the_plugin_query_model(name: str, panel: dict[str, Any], target: dict[str, Any]) -> None:
    datasource = yaml.safe_load(DATASOURCE.read_text(encoding="utf-8"))["datasources"][0]
    for ds in (panel["datasource"], target["datasource"]):
        assert ds == {"type": PLUGIN, "uid": datasource["uid"]}
    assert target["editorType"] == "sql" and target["rawSql"].strip()
    # format is sqlutil's FormatQueryOption: 0 = time series, 1 = table.
    assert (target["queryType"], target["format"]) in (("timeseries", 0), ("table", 1))
    assert (target["format"] == 0) == (panel["type"] == "timeseries"), panel["title"]
    columns = target["expectedColumns"]
    assert columns and len(set(columns)) == len(columns)
    if target["format"] == 0:
        assert columns[0] == "time", "a time series needs its time column first"


# --- the queries on the real engine -------------------------------------------------------


T = datetime(2026, 11, 3, 9, tzinfo=UTC)


def pipeline_rows(client: Any) -> None:
    """Rows the pipeline-health panels read, besides the events."""
    client.insert("parcours.dead_letters", [
        [T, "parcours.events.raw/0/7", "not_json: expecting value", "{not json", ""],
        [T + timedelta(hours=2), "parcours.events.raw/1/9", "invalid_occurred_at: not RFC 3339", "{...}", "r1"],
        [T + timedelta(hours=2), "parcours.events.raw/2/3", "not_json: truncated", "{\"a\":", "r1"],
    ], column_names=["received_at", "source", "reason", "raw", "replay_id"])
    client.insert("parcours.pipeline_barriers", [["r1", 0, T], ["r1", 1, T + timedelta(seconds=2)]],
                  column_names=["barrier_id", "partition", "completed_at"])
    client.insert("parcours.identity_refusals", [["a05", "user_id:u1", "user_id:u2", "user_id", T]],
                  column_names=["event_id", "kept", "refused", "kind", "recorded_at"])
    client.insert("parcours.identity_shared", [["device_id", "kiosk-1", "device_id:kiosk-1", T]],
                  column_names=["kind", "value", "anchor_id", "marked_at"])
    client.insert("parcours.identities", [["user_id", "pA", "pA", "pA", T]],
                  column_names=["kind", "value", "person_id", "anchor_id", "first_seen"])


@pytest.fixture(scope="module")
def loaded(clickhouse: Any) -> Iterator[Any]:
    from tests.integration import journeys_data as journeys

    def clear() -> None:
        journeys.truncate_all(clickhouse)
        clickhouse.command("TRUNCATE TABLE IF EXISTS parcours.pipeline_barriers")

    clear()
    journeys.insert_events(clickhouse, journeys.EVENTS)
    clickhouse.insert("parcours.sessions", [list(r) for r in journeys.session_rows()],
                      column_names=journeys.SESSION_COLUMNS)
    clickhouse.insert("parcours.person_merges", [list(r) for r in journeys.PERSON_MERGES],
                      column_names=journeys.PERSON_MERGE_COLUMNS)
    pipeline_rows(clickhouse)
    yield clickhouse
    clear()


@pytest.mark.integration
@pytest.mark.parametrize(("name", "panel", "target"), TARGETS, ids=[f"{n}:{p['title']}" for n, p, _ in TARGETS])
def test_panel_query_runs_and_returns_its_columns(loaded: Any, name: str, panel: dict[str, Any],
                                                  target: dict[str, Any]) -> None:
    result = loaded.query(expand(target["rawSql"]))
    assert list(result.column_names) == target["expectedColumns"]
    assert result.result_rows, f"{name}: {panel['title']} returns no row on the test dataset"


# --- what the panels read: only what the BI user may read --------------------------------

#: Lines of EXPLAIN QUERY TREE naming what a query reads, at any depth (FROM, JOIN, IN, EXISTS and
#: scalar subqueries; a CTE appears as the query it names):
#: `TABLE id: 4, alias: __table1, table_name: parcours.v_events, final: 1` and
#: `TABLE_FUNCTION id: 3, alias: __table1, table_function_name: numbers`.
_TABLE = re.compile(r"^\s*TABLE id: \d+,.*?\btable_name: ([^,\s]+)", re.MULTILINE)
_TABLE_FUNCTION = re.compile(r"^\s*TABLE_FUNCTION id: \d+,.*?\btable_function_name: ([^,\s]+)", re.MULTILINE)
#: What a SELECT without FROM reads; every user may.
IMPLICIT = {"system.one"}
#: Table functions that make rows up and read no data (registered `allow_readonly`, so they need no
#: CREATE TEMPORARY TABLE either). Any other is reported: merge(), view(), cluster() or file() read
#: data behind the views' back, and the role could not run most of them anyway.
GENERATORS = {"numbers", "numbers_mt", "zeros", "zeros_mt", "generateSeries", "generate_series"}
BI_READABLE = re.compile(r"parcours\.v_\w+")


def reads(client: Any, sql: str) -> set[str]:
    """What `sql` reads, as ClickHouse resolves it: tables as `db.name`, table functions as `name()`
    (generators left out)."""
    tree = "\n".join(row[0] for row in client.query(f"EXPLAIN QUERY TREE {sql}").result_rows)
    functions = set(_TABLE_FUNCTION.findall(tree)) - GENERATORS
    return (set(_TABLE.findall(tree)) - IMPLICIT) | {f"{name}()" for name in functions}


def not_for_bi(client: Any, sql: str) -> set[str]:
    return {source for source in reads(client, sql) if not BI_READABLE.fullmatch(source)}


@pytest.mark.integration
@pytest.mark.parametrize(("sql", "table"), [
    ("SELECT count() FROM parcours.events", "parcours.events"),
    ("SELECT count() FROM parcours.v_events AS e LEFT JOIN parcours.events AS r ON r.event_id = e.event_id",
     "parcours.events"),
    ("SELECT count() FROM parcours.v_events WHERE event_type IN (SELECT event_type FROM parcours.events)",
     "parcours.events"),
    ("SELECT count() FROM parcours.v_events WHERE event_type IN parcours.conversion_types",
     "parcours.conversion_types"),
    ("SELECT (SELECT count() FROM parcours.events) AS n", "parcours.events"),
    ("WITH x AS (SELECT * FROM parcours.events) SELECT count() FROM x", "parcours.events"),
    ("SELECT 1 FROM parcours.v_events UNION ALL SELECT 1 FROM (SELECT 1 FROM parcours.dead_letters FINAL)",
     "parcours.dead_letters"),
    ("SELECT count() FROM parcours.v_events AS e, parcours.events AS r", "parcours.events"),
    ("SELECT count() FROM parcours.v_events WHERE EXISTS (SELECT 1 FROM parcours.identity_shared)",
     "parcours.identity_shared"),
])
def test_reading_a_table_is_flagged_wherever_it_hides(clickhouse: Any, sql: str, table: str) -> None:
    assert not_for_bi(clickhouse, sql) == {table}


@pytest.mark.integration
def test_views_generators_and_cte_names_are_not_flagged(clickhouse: Any) -> None:
    # A CTE named like a table is the CTE (ClickHouse resolves it first).
    assert not_for_bi(clickhouse, "WITH events AS (SELECT channel FROM parcours.v_events) "
                                  "SELECT number FROM numbers(3) AS n, events") == set()
    assert reads(clickhouse, "SELECT 1") == set()
    assert not_for_bi(clickhouse, "SELECT count() FROM system.parts") == {"system.parts"}
    assert not_for_bi(clickhouse, "SELECT count() FROM merge('parcours', '^events$')") == {"merge()"}
    assert not_for_bi(clickhouse, "SELECT count() FROM view(SELECT 1 FROM parcours.events)") == {"view()"}


@pytest.mark.integration
@pytest.mark.parametrize(("name", "panel", "target"), TARGETS, ids=[f"{n}:{p['title']}" for n, p, _ in TARGETS])
def test_panel_reads_only_views_the_bi_user_may_read(clickhouse: Any, name: str, panel: dict[str, Any],
                                                     target: dict[str, Any]) -> None:
    sql = expand(target["rawSql"])
    read = reads(clickhouse, sql)
    assert read, f"{name}: {panel['title']}: no table found in the query tree (did its format change?)"
    assert not_for_bi(clickhouse, sql) == set(), f"{name}: {panel['title']} reads what the BI role may not"
    # Views run with their definer's rights (pipeline/sink/access.py), so SELECT on them is enough.
    ddl = dict(clickhouse.query("SELECT concat(database, '.', name), create_table_query FROM system.tables "
                                "WHERE database = 'parcours' AND engine = 'View'").result_rows)
    assert all("SQL SECURITY DEFINER" in ddl.get(view, "") for view in read), (name, panel["title"], read)


# --- how the panels show their fields -------------------------------------------------------


def field_config(panel: dict[str, Any], column: str) -> dict[str, Any]:
    """The config Grafana gives the field `column`: the panel's defaults, then its byName overrides
    in order (a dotted property id such as `custom.axisPlacement` sets a nested key, as in Grafana)."""
    config = copy.deepcopy(panel["fieldConfig"]["defaults"])
    for override in panel["fieldConfig"]["overrides"]:
        if override["matcher"] == {"id": "byName", "options": column}:
            for prop in override["properties"]:
                *path, key = prop["id"].split(".")
                node = config
                for part in path:
                    node = node.setdefault(part, {})
                node[key] = prop["value"]
    return config


def _top_level(sql: str) -> str:
    """`sql` with everything inside parentheses and quotes blanked out (same length), so that the
    keywords and commas left are those of the outer query."""
    out, depth, quote = [], 0, ""
    for ch in sql:
        if quote:
            quote = "" if ch == quote else quote
            out.append(" ")
        elif ch in "'\"`":
            quote = ch
            out.append(" ")
        elif ch in "()":
            depth += 1 if ch == "(" else -1
            out.append(" ")
        else:
            out.append(ch if depth == 0 else " ")
    return "".join(out)


def select_list(sql: str) -> dict[str, str]:
    """alias -> expression of the outer SELECT's columns (a bare `t.col` is named `col`)."""
    top = _top_level(sql)
    start = re.search(r"\bSELECT\b", top, re.IGNORECASE)
    end = re.compile(r"\bFROM\b", re.IGNORECASE).search(top, start.end()) if start else None
    assert start and end, f"no outer SELECT ... FROM in {sql[:80]!r}"
    body = top[start.end():end.start()]
    bounds = [start.end(), *(start.end() + m.start() for m in re.finditer(",", body)), end.start()]
    items = [sql[a:b].strip().removeprefix(",").strip() for a, b in pairwise(bounds)]
    columns: dict[str, str] = {}
    for item in items:
        named = re.fullmatch(r"(.*\S)\s+AS\s+(\w+)", item, re.IGNORECASE | re.DOTALL)
        alias, expression = (named.group(2), named.group(1)) if named else (item.split(".")[-1], item)
        columns[alias] = expression
    return columns


#: What a column's name says about its scale, from the views' SQL (infra/clickhouse/*.sql):
#: (name pattern, Grafana unit, min, max). The first pattern that matches decides.
SCALES: list[tuple[re.Pattern[str], str, int, int]] = [
    # 0-1 fractions: v_dropoffs.share, v_touchpoint_pareto.cumulative_share, v_kpi_daily and
    # v_channel_switches conversion_rate, v_moments_of_truth repurchase_rate_*, bounce_rate ...
    (re.compile(r"(^|_)(rate|share|ratio)(_|$)"), "percentunit", 0, 1),
    # v_moments_of_truth: repurchase_rate_satisfied - repurchase_rate_dissatisfied.
    (re.compile(r"^separation$"), "percentunit", -1, 1),
    # v_satisfaction_daily.csat_pct: 100 * answers of 4-5 / answers.
    (re.compile(r"^csat_pct$"), "percent", 0, 100),
    # The mean of the 1-5 answers (csat_avg).
    (re.compile(r"^csat(_avg)?$"), "none", 1, 5),
    # 100 * (promoters 9-10 - detractors 0-6) / answers.
    (re.compile(r"^nps$"), "none", -100, 100),
]


def test_select_list_reads_every_panel() -> None:
    for name, panel, target in TARGETS:
        assert list(select_list(target["rawSql"])) == target["expectedColumns"], (name, panel["title"])


def test_overrides_name_a_column_of_their_panel() -> None:
    for name, panel, target in TARGETS:
        for override in panel["fieldConfig"]["overrides"]:
            assert override["matcher"]["id"] == "byName", (name, panel["title"], override)
            assert override["matcher"]["options"] in target["expectedColumns"], (name, panel["title"], override)


def test_ratios_scores_and_rates_are_on_their_scale() -> None:
    wrong, matched = [], set()
    for name, panel, target in TARGETS:
        for column in target["expectedColumns"]:
            for pattern, unit, low, high in SCALES:
                if pattern.search(column):
                    matched.add(pattern.pattern)
                    config = field_config(panel, column)
                    shown = (config.get("unit"), config.get("min"), config.get("max"))
                    if shown != (unit, low, high):
                        wrong.append(f"{name}: {panel['title']}: {column} has (unit, min, max) {shown}, "
                                     f"not {(unit, low, high)}")
                    break
    assert not wrong, "\n".join(wrong)
    # The dashboards still show such columns: a rename must not leave this test checking nothing.
    assert matched >= {p.pattern for p, *_ in SCALES} - {"^csat_pct$"}, matched


def test_revenue_has_no_currency_symbol_and_says_it_adds_currencies() -> None:
    """Revenue is the events' `revenue` summed whatever their `currency`: no currency unit, and
    the panel says so."""
    wrong, money = [], 0
    for name, panel, target in TARGETS:
        for column, expression in select_list(target["rawSql"]).items():
            if "revenue" not in f"{column} {expression}".lower():
                continue
            money += 1
            unit = field_config(panel, column).get("unit") or ""
            if not unit or unit.startswith("currency"):
                wrong.append(f"{name}: {panel['title']}: {column} has unit {unit!r}")
            if "currenc" not in panel["description"].lower():
                wrong.append(f"{name}: {panel['title']}: the description does not say how currencies add up")
    assert money >= 6 and not wrong, "\n".join(wrong)


def test_the_demo_range_is_a_click_away() -> None:
    """`parcours demo` simulates fixed dates: the journey dashboards link to them, and README says how."""
    from jobs.simulate import DEFAULT_START, simulate

    days = inspect.signature(simulate).parameters["days"].default
    start = int(DEFAULT_START.timestamp()) * 1000
    end = start + days * 86_400_000
    for name in ("journeys", "touchpoints"):
        board = dashboards()[name]
        urls = [urlsplit(link["url"]) for link in board["links"] if link["type"] == "link"]
        assert any(url.path == f"/d/{board['uid']}" and parse_qs(url.query) == {"from": [str(start)], "to": [str(end)]}
                   for url in urls), (name, board["links"])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Dashboards\n", 1)[1].split("\n## ", 1)[0]
    last_day = DEFAULT_START + timedelta(days=days)
    for text in (f"{DEFAULT_START:%Y-%m-%d}", f"{last_day:%Y-%m-%d}", f"from={start}&to={end}"):
        assert text in section, text


def column_types(client: Any, sql: str) -> dict[str, str]:
    """name -> ClickHouse type of each column `sql` returns (DESCRIBE keeps a DateTime's zone)."""
    return {row[0]: row[1] for row in client.query(f"DESCRIBE ({expand(sql)})").result_rows}


_NUMERIC = re.compile(r"(Nullable\()?(U?Int\d+|Float\d+|Decimal)")
_DATETIME = re.compile(r"(Nullable\()?DateTime(64)?\b")
_UTC = re.compile(r"(Nullable\()?DateTime(64)?\((\d+, )?'UTC'\)\)?")


@pytest.mark.integration
@pytest.mark.parametrize(("name", "panel", "target"), TARGETS, ids=[f"{n}:{p['title']}" for n, p, _ in TARGETS])
def test_panel_fields_have_units_and_utc_times(clickhouse: Any, name: str, panel: dict[str, Any],
                                               target: dict[str, Any]) -> None:
    """What ClickHouse says each column is: numbers need a unit, times an explicit UTC zone (one
    without is midnight in the server's zone, hours off on Grafana's axis), and a chart's fields of
    different units need different axes."""
    types = column_types(clickhouse, target["rawSql"])
    assert list(types) == target["expectedColumns"]
    axes: dict[str, set[str]] = {}
    for column, kind in types.items():
        config = field_config(panel, column)
        if _DATETIME.match(kind):
            assert _UTC.fullmatch(kind), f"{panel['title']}: {column} is {kind}, without 'UTC'"
        elif _NUMERIC.match(kind):
            assert config.get("unit"), f"{panel['title']}: {column} ({kind}) has no unit"
            placement = config.get("custom", {}).get("axisPlacement", "auto")
            axes.setdefault("left" if placement == "auto" else placement, set()).add(config["unit"])
    if panel["type"] in ("timeseries", "barchart"):
        assert all(len(units) == 1 for units in axes.values()), f"{panel['title']}: units sharing an axis: {axes}"


# --- provisioning -------------------------------------------------------------------------


def test_dashboards_provider_points_at_the_mounted_folder() -> None:
    provider = yaml.safe_load(PROVIDER.read_text(encoding="utf-8"))
    (entry,) = provider["providers"]
    assert entry["type"] == "file"
    path = entry["options"]["path"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    grafana = compose["services"]["grafana"]
    mounts = [str(v) for v in grafana.get("volumes") or []]
    assert any(m.split(":")[:2] == ["./infra/grafana/dashboards", path] for m in mounts), (path, mounts)
    assert any(m.startswith("./infra/grafana/provisioning:/etc/grafana/provisioning") for m in mounts)
    env = grafana["environment"]
    plugins = f"{env.get('GF_INSTALL_PLUGINS', '')},{env.get('GF_PLUGINS_PREINSTALL', '')}"
    # "ID", "ID VERSION" (GF_INSTALL_PLUGINS) or "ID@VERSION" (GF_PLUGINS_PREINSTALL)
    assert PLUGIN in {p.strip().split(" ")[0].split("@")[0] for p in plugins.split(",")}
