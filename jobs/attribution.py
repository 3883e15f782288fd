"""Markov-chain attribution (`parcours attribute`): the data-driven model next to the five
rule-based ones that infra/clickhouse/0005_attribution.sql computes in SQL.

strategy: every journey becomes a path of channels, start -> c1 -> ... -> ck -> conversion
(the channels of T(c), for each conversion) or -> null (per person, the events after their
last conversion, or all of them without one, within lookback_days before the last). Counting
transitions gives a first-order absorbing Markov chain; P(conversion) is the probability of
absorption in `conversion` from `start`, solved exactly as the linear system (I - Q) x = r
over the transient states (start and the channels: a dozen or so, so a pure-Python Gaussian
elimination is enough). Removing a channel turns it into a dead end (what entered it is
lost); its removal effect is 1 - P(conversion without it) / P(conversion). A conversion's
credit is shared by its channels in proportion to their effects (equally if all are 0), and
within a channel equally over the conversion's touches in it.

A first-order chain splices journeys: a channel seen only on non-converting paths can still
reach `conversion` through a transition another journey made. With no converting journey
behind it, its effect is set to 0.

The job is a full recompute: parcours.attribution_markov is truncated and rewritten; the
contract view parcours.v_attribution reads it next to the rule models. SQL lives in
jobs/sql/attribution/*.sql.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from pipeline.sink.clickhouse import lock

SQL_DIR = Path(__file__).parent / "sql" / "attribution"
START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
DAY_MS = 86_400_000
MARKOV_SCHEMA = pa.schema([
    ("conversion_id", pa.string()), ("person_id", pa.string()), ("touchpoint", pa.string()),
    ("channel", pa.string()), ("credit", pa.float64()), ("revenue_credit", pa.float64()),
    ("computed_at", pa.timestamp("ms", tz="UTC")),
])


@dataclass(frozen=True)
class MarkovResult:
    effects: dict[str, float]
    """Removal effect per channel, largest first."""
    converting_paths: int
    """One per conversion."""
    non_converting_paths: int
    rows: int
    """Rows written to parcours.attribution_markov."""


def sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


# ---- journeys -------------------------------------------------------------------------------


def converting_paths(touches: pl.DataFrame) -> pl.DataFrame:
    """One path per conversion: the channels of T(c) in touch order."""
    return (touches.sort("conversion_id", "position")
            .group_by("conversion_id", maintain_order=True).agg(path=pl.col("channel"))
            .select("path", converted=pl.lit(True)))


def non_converting_paths(events: pl.DataFrame, lookback_days: float) -> pl.DataFrame:
    """Per person, the events after their last conversion (all if none), within lookback_days
    before the last of them. Events at a conversion's instant belong to its T(c), not here."""
    last = (events.filter(pl.col("is_conversion")).group_by("person_id")
            .agg(last_conversion=pl.col("at_ms").max()))
    trailing = (events.join(last, on="person_id", how="left")
                .filter(pl.col("last_conversion").is_null()
                        | (pl.col("at_ms") > pl.col("last_conversion"))))
    recent = trailing.filter(
        pl.col("at_ms") >= pl.col("at_ms").max().over("person_id") - lookback_days * DAY_MS)
    return (recent.sort("person_id", "at_ms", "event_id")
            .group_by("person_id", maintain_order=True).agg(path=pl.col("channel"))
            .select("path", converted=pl.lit(False)))


# ---- the chain ------------------------------------------------------------------------------


def transitions(paths: pl.DataFrame) -> dict[str, dict[str, int]]:
    """state -> next state -> count, over start -> path... -> conversion | null."""
    end = pl.when(pl.col("converted")).then(pl.lit(CONVERSION)).otherwise(pl.lit(NULL))
    states = paths.select(s=pl.concat_list(pl.lit(START), pl.col("path"), end))
    pairs = (states.select(src=pl.col("s").list.slice(0, pl.col("s").list.len() - 1),
                           dst=pl.col("s").list.slice(1))
             .explode("src", "dst").group_by("src", "dst").len("n"))
    counts: dict[str, dict[str, int]] = {}
    for src, dst, n in pairs.iter_rows():
        counts.setdefault(src, {})[dst] = int(n)
    return counts


def conversion_probability(counts: dict[str, dict[str, int]], removed: str | None = None) -> float:
    """P(absorbed in conversion | start), with `removed` made a dead end."""
    transient = [s for s in counts if s != removed]
    if START not in transient:
        return 0.0
    index = {s: k for k, s in enumerate(transient)}
    a = [[float(i == j) for j in range(len(transient))] for i in range(len(transient))]
    b = [0.0] * len(transient)
    for src in transient:
        total = sum(counts[src].values())
        for dst, n in counts[src].items():
            if dst == CONVERSION:
                b[index[src]] += n / total
            elif dst in index:
                a[index[src]][index[dst]] -= n / total
    return solve(a, b)[index[START]]


def solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gauss-Jordan elimination with partial pivoting (I - Q is non-singular: every observed
    state reaches an absorbing one)."""
    m = [row[:] + [rhs] for row, rhs in zip(a, b, strict=True)]
    size = len(b)
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(size):
            if r != col and m[r][col] != 0.0:
                f = m[r][col] / m[col][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col], strict=True)]
    return [m[i][size] / m[i][i] for i in range(size)]


def removal_effects(paths: pl.DataFrame) -> dict[str, float]:
    """Removal effect in [0, 1] of every channel in `paths` (columns path: list[str],
    converted: bool); 0 for channels never on a converting path."""
    counts = transitions(paths)
    base = conversion_probability(counts)
    converting = set(paths.filter(pl.col("converted"))["path"].explode().drop_nulls().to_list())
    channels = sorted(set(paths["path"].explode().drop_nulls().to_list()))
    effects = {}
    for channel in channels:
        effect = 1.0 - conversion_probability(counts, channel) / base if base > 0 else 0.0
        effects[channel] = min(1.0, max(0.0, effect)) if channel in converting else 0.0
    return dict(sorted(effects.items(), key=lambda kv: (-kv[1], kv[0])))


# ---- credits --------------------------------------------------------------------------------


def markov_credits(touches: pl.DataFrame, effects: dict[str, float]) -> pl.DataFrame:
    """Per (conversion, touchpoint, channel): the conversion's channels share 1 in proportion
    to their effects (equally if all are 0), each channel's share split over its touches."""
    effect = pl.col("channel").replace_strict(effects, default=0.0, return_dtype=pl.Float64)
    total = pl.col("effect").sum().over("conversion_id")
    shares = (touches.group_by("conversion_id", "channel").agg(k=pl.len())
              .with_columns(effect=effect)
              .with_columns(share=pl.when(total > 0).then(pl.col("effect") / total)
                            .otherwise(1.0 / pl.len().over("conversion_id"))))
    return (touches.join(shares, on=["conversion_id", "channel"])
            .group_by("conversion_id", "person_id", "touchpoint", "channel")
            .agg(credit=(pl.col("share") / pl.col("k")).sum(), revenue=pl.col("revenue").first())
            .with_columns(revenue_credit=pl.col("credit") * pl.col("revenue"))
            .drop("revenue").sort("conversion_id", "touchpoint", "channel"))


# ---- the job --------------------------------------------------------------------------------


def _frame(client: Any, name: str) -> pl.DataFrame:
    with lock:
        frame = pl.from_arrow(client.query_arrow(sql(name)))
    assert isinstance(frame, pl.DataFrame)
    return frame


def _write(client: Any, credits: pl.DataFrame) -> None:
    now = pl.lit(datetime.now(UTC)).dt.cast_time_unit("ms")
    table = credits.with_columns(computed_at=now).to_arrow()
    with lock:
        client.command("TRUNCATE TABLE parcours.attribution_markov")
        if credits.height:
            client.insert_arrow("parcours.attribution_markov",
                                table.select(MARKOV_SCHEMA.names).cast(MARKOV_SCHEMA))


def run_markov(client: Any) -> MarkovResult:
    """Recompute the Markov model from ClickHouse and replace parcours.attribution_markov."""
    lookback = float(_frame(client, "settings")["lookback_days"][0] or 0.0)
    touches = _frame(client, "touches")
    events = _frame(client, "events").with_columns(pl.col("is_conversion").cast(pl.Boolean))
    converting = converting_paths(touches)
    idle = non_converting_paths(events, lookback)
    effects = removal_effects(pl.concat([converting, idle]))
    credits = markov_credits(touches, effects)
    _write(client, credits)
    return MarkovResult(effects, converting.height, idle.height, credits.height)


def credit_by_channel(client: Any) -> list[tuple[Any, ...]]:
    """(model, channel, credit, revenue_credit) from v_attribution, for the CLI."""
    with lock:
        return [tuple(row) for row in client.query(sql("credit_by_channel")).result_rows]


def render(result: MarkovResult, rows: list[tuple[Any, ...]]) -> str:
    lines = [f"{'model':<15} {'channel':<14} {'credit':>10} {'revenue':>14}"]
    lines += [f"{m:<15} {c:<14} {cr:>10.2f} {rv:>14,.2f}" for m, c, cr, rv in rows]
    lines += ["", f"markov: {result.converting_paths:,} converting and "
                  f"{result.non_converting_paths:,} non-converting paths, {result.rows:,} rows",
              f"{'channel':<14} {'removal effect':>14}"]
    lines += [f"{c:<14} {e:>14.3f}" for c, e in result.effects.items()]
    return "\n".join(lines)
