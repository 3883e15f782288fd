-- Daily KPIs per touchpoint, channel and stage, kept up to date at insert time by a
-- materialized view, so dashboards read a few thousand pre-aggregated rows instead of
-- re-scanning v_events (FINAL and joins) on every refresh.
--
-- Duplicates: the sink may insert the same rows twice (a retried batch, a re-run replay), and
-- a materialized view sees every insert, before any ReplacingMergeTree merge or FINAL. So no
-- state here is a count or a sum: events, sessions, visitors and conversions are exact sets
-- of ids (uniqExact), and revenue, CSAT and NPS keep their per-event values as sets of
-- (event_id, value) pairs (groupUniqArray), summed or averaged only when read. Only conversion
-- and survey events carry such values, so those sets stay small. A re-delivered row that is
-- identical except for ingested_at thus changes nothing.
--
-- Backfill: the materialized view only sees inserts made after it exists, and this migration
-- does not copy existing events (migrations stay idempotent and cheap to re-run, and scanning
-- all history while the sink writes is an operator's call). So the rollup starts empty: fresh
-- installs are complete, an upgraded install covers the events inserted from the upgrade on.
-- To backfill by hand: INSERT INTO parcours.kpi_daily_state followed by the SELECT of
-- parcours.kpi_daily_mv (running it twice is harmless: the states are sets).
--
-- Known limits, by design of an insert-time rollup over raw facts:
-- - ids are the ones written: a session later merged into another (session_merges, or a
--   re-sessionization) still counts as its own session, and visitors are anchors
--   (uniqExact(anchor_id), the identifier a person was resolved through) rather than the
--   re-attributed persons, so a person stitched from two anchors counts twice. Per touchpoint
--   and day this is rare, and it is the price of not re-reading person_merges on every insert.
-- - the conversion types are the ones in parcours.conversion_types at insert time.
-- - deleting events (TRUNCATE, a dropped partition) does not remove their states: drop the
--   same month here too (same PARTITION BY).

-- AggregatingMergeTree merges the states of rows with equal keys in the background, the view
-- below merges what is not merged yet (the -Merge functions), so reads are exact at any time.
-- ORDER BY (day, touchpoint, channel, stage): the aggregation key, day first because
-- dashboards filter on a date range.
-- PARTITION BY toYYYYMM(day): the same months as parcours.events, so a month of KPIs can be
-- dropped together with its events.
-- SETTINGS: a row here holds sets of ids (a day's events of one touchpoint), so a merge that
-- reads or writes 8 192 rows at a time (the default) holds every state of its parts at once:
-- up to ~300 MB merging the rollup of 1 M events. 8 rows bound it (0015_kpi_merge_memory.sql).
CREATE TABLE IF NOT EXISTS parcours.kpi_daily_state
(
    day                Date,
    touchpoint         LowCardinality(String),
    channel            LowCardinality(String),
    stage              LowCardinality(String),
    events_state       AggregateFunction(uniqExact, String),
    visitors_state     AggregateFunction(uniqExact, String),
    sessions_state     AggregateFunction(uniqExact, String),
    conversions_state  AggregateFunction(uniqExact, String),
    revenue_state      AggregateFunction(groupUniqArray, Tuple(String, Float64)),
    csat_state         AggregateFunction(groupUniqArray, Tuple(String, UInt8)),
    nps_state          AggregateFunction(groupUniqArray, Tuple(String, UInt8))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, touchpoint, channel, stage)
SETTINGS index_granularity = 8, merge_max_block_size = 8;

-- Fires on every insert into parcours.events (the raw fact table: materialized views react to
-- inserts, a view over a view would never fire). Revenue counts on conversion events only, as
-- in every other revenue figure (a cart value on add_to_cart is not revenue).
-- IF NOT EXISTS, not OR REPLACE: ClickHouse before 26.x (compose runs 25.8) rejects
-- CREATE OR REPLACE MATERIALIZED VIEW as a syntax error. To change the definition later, a
-- new migration drops and re-creates the view, the states in the TO table stay.
CREATE MATERIALIZED VIEW IF NOT EXISTS parcours.kpi_daily_mv TO parcours.kpi_daily_state AS
SELECT
    toDate(occurred_at) AS day,
    touchpoint,
    channel,
    stage,
    uniqExactState(event_id) AS events_state,
    uniqExactStateIf(anchor_id, anchor_id != '') AS visitors_state,
    uniqExactStateIf(session_id, session_id != '') AS sessions_state,
    uniqExactStateIf(event_id, event_type IN (SELECT event_type FROM parcours.conversion_types)) AS conversions_state,
    groupUniqArrayStateIf(tuple(event_id, revenue),
                          revenue != 0 AND event_type IN (SELECT event_type FROM parcours.conversion_types))
        AS revenue_state,
    groupUniqArrayStateIf(tuple(event_id, assumeNotNull(csat)), csat IS NOT NULL) AS csat_state,
    groupUniqArrayStateIf(tuple(event_id, assumeNotNull(nps)), nps IS NOT NULL) AS nps_state
FROM parcours.events
GROUP BY day, touchpoint, channel, stage;

-- Daily KPIs for BI. conversion_rate = conversions / sessions that touched the touchpoint that
-- day, NULL without sessions. csat_avg (1-5) and nps (-100..100) are NULL without answers.
-- bounce_rate cannot be kept incrementally: a session is re-emitted with a higher version as it
-- grows (1 event, then 3), so "was a bounce" is only known from its latest version. It is
-- computed here from v_sessions (re-attributed, latest versions): sessions with one event /
-- sessions, per day of started_at and entry touchpoint and channel, joined on (day,
-- touchpoint, channel), so every stage row of a touchpoint shows the same entry bounce rate.
-- The entry channel is channels[1]: channels are listed in the order the sessions stage
-- received them, so it is exact unless the session's first event arrived late
-- (entry_touchpoint is always exact).
-- visitors (distinct anchors, see the limits above) comes last so it can grow without
-- moving the other columns.
CREATE OR REPLACE VIEW parcours.v_kpi_daily AS
SELECT
    k.day AS day,
    k.touchpoint AS touchpoint,
    k.channel AS channel,
    k.stage AS stage,
    k.events AS events,
    k.sessions AS sessions,
    k.conversions AS conversions,
    if(k.sessions = 0, NULL, k.conversions / k.sessions) AS conversion_rate,
    k.revenue AS revenue,
    if(length(k.csats) = 0, NULL, arrayAvg(k.csats)) AS csat_avg,
    if(length(k.npss) = 0, NULL,
       100 * (arrayCount(x -> x >= 9, k.npss) - arrayCount(x -> x <= 6, k.npss)) / length(k.npss)) AS nps,
    if(b.entered = 0, NULL, b.bounces / b.entered) AS bounce_rate,
    k.visitors AS visitors
FROM
(
    SELECT
        day,
        toString(touchpoint) AS touchpoint,
        toString(channel) AS channel,
        toString(stage) AS stage,
        uniqExactMerge(events_state) AS events,
        uniqExactMerge(visitors_state) AS visitors,
        uniqExactMerge(sessions_state) AS sessions,
        uniqExactMerge(conversions_state) AS conversions,
        arraySum(x -> x.2, groupUniqArrayMerge(revenue_state)) AS revenue,
        arrayMap(x -> x.2, groupUniqArrayMerge(csat_state)) AS csats,
        arrayMap(x -> x.2, groupUniqArrayMerge(nps_state)) AS npss
    FROM parcours.kpi_daily_state
    GROUP BY day, touchpoint, channel, stage
) AS k
LEFT JOIN
(
    SELECT
        toDate(started_at) AS day,
        entry_touchpoint AS touchpoint,
        channels[1] AS channel,
        count() AS entered,
        countIf(event_count = 1) AS bounces
    FROM parcours.v_sessions
    GROUP BY day, touchpoint, channel
) AS b ON b.day = k.day AND b.touchpoint = k.touchpoint AND b.channel = k.channel
ORDER BY day, touchpoint, channel, stage
SETTINGS join_use_nulls = 0;
