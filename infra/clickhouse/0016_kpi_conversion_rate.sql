-- v_kpi_daily's conversion rate becomes the share of sessions that converted: of the sessions
-- that touched the touchpoint that day, those with a conversion event there. It was
-- conversions / sessions, which passes 1 when a session buys twice (2.0 at a checkout desk
-- where one visit made two purchases), unlike every conversion rate a BI user knows. The
-- conversion count stays, and the converting sessions are a new column. Last, csat_pct: the
-- share of CSAT answers of 4 or 5, the CSAT most CX teams report (csat_avg stays, the mean).
--
-- The state is a set of session ids, like the others (duplicate-safe, 0007). The materialized
-- view is dropped and created again with the new state (compose's ClickHouse rejects CREATE OR
-- REPLACE for it, see 0007); an insert into parcours.events in between is not rolled up, so
-- run migrations before the workers, as compose does. Existing rows get the new state from the
-- conversion events already written: a scan of those events only (event_type leads the sort
-- key within a day), and running it twice changes nothing (sets).
ALTER TABLE parcours.kpi_daily_state
    ADD COLUMN IF NOT EXISTS converting_sessions_state AggregateFunction(uniqExact, String);

DROP VIEW IF EXISTS parcours.kpi_daily_mv;

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
    groupUniqArrayStateIf(tuple(event_id, assumeNotNull(nps)), nps IS NOT NULL) AS nps_state,
    uniqExactStateIf(session_id, session_id != '' AND event_type IN (SELECT event_type FROM parcours.conversion_types))
        AS converting_sessions_state
FROM parcours.events
GROUP BY day, touchpoint, channel, stage;

INSERT INTO parcours.kpi_daily_state (day, touchpoint, channel, stage, converting_sessions_state)
SELECT
    toDate(occurred_at) AS day,
    touchpoint,
    channel,
    stage,
    uniqExactStateIf(session_id, session_id != '') AS converting_sessions_state
FROM parcours.events
WHERE event_type IN (SELECT event_type FROM parcours.conversion_types)
GROUP BY day, touchpoint, channel, stage;

CREATE OR REPLACE VIEW parcours.v_kpi_daily AS
SELECT
    k.day AS day,
    k.touchpoint AS touchpoint,
    k.channel AS channel,
    k.stage AS stage,
    k.events AS events,
    k.sessions AS sessions,
    k.conversions AS conversions,
    if(k.sessions = 0, NULL, k.converting_sessions / k.sessions) AS conversion_rate,
    k.revenue AS revenue,
    if(length(k.csats) = 0, NULL, arrayAvg(k.csats)) AS csat_avg,
    if(length(k.npss) = 0, NULL,
       100 * (arrayCount(x -> x >= 9, k.npss) - arrayCount(x -> x <= 6, k.npss)) / length(k.npss)) AS nps,
    if(b.entered = 0, NULL, b.bounces / b.entered) AS bounce_rate,
    k.visitors AS visitors,
    k.converting_sessions AS converting_sessions,
    if(length(k.csats) = 0, NULL, 100 * arrayCount(x -> x >= 4, k.csats) / length(k.csats)) AS csat_pct
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
        uniqExactMerge(converting_sessions_state) AS converting_sessions,
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
