-- The KPI rollup counts every event's *current* session, as the views see it: the
-- re-sessionization's override, else the streaming session, followed through session_merges
-- (0026's event_session), looked up for the inserted block's events and sessions only (both
-- tables are sorted by that key). It rolled up the session id each row was written with: rows
-- written again once their session had been re-cut and the day restated (a sink's retried
-- batch, a re-inserted backup) put the retired id back into the day's set, and the session
-- counted twice. The restatement (jobs/rollup.py) runs this same query over the current events
-- of the days it restates.
--
-- In a materialized view every `parcours.events` names the inserted block, the subqueries'
-- too. Dropped and created again, as in 0016 (an insert in between is not rolled up: run
-- migrations before the workers).
DROP VIEW IF EXISTS parcours.kpi_daily_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS parcours.kpi_daily_mv TO parcours.kpi_daily_state AS
SELECT
    toDate(occurred_at) AS day,
    touchpoint,
    channel,
    stage,
    uniqExactState(event_id) AS events_state,
    uniqExactStateIf(anchor_id, anchor_id != '') AS visitors_state,
    uniqExactStateIf(current_session, current_session != '') AS sessions_state,
    uniqExactStateIf(event_id, event_type IN (SELECT event_type FROM parcours.conversion_types)) AS conversions_state,
    groupUniqArrayStateIf(tuple(event_id, revenue),
                          revenue != 0 AND event_type IN (SELECT event_type FROM parcours.conversion_types))
        AS revenue_state,
    groupUniqArrayStateIf(tuple(event_id, assumeNotNull(csat)), csat IS NOT NULL) AS csat_state,
    groupUniqArrayStateIf(tuple(event_id, assumeNotNull(nps)), nps IS NOT NULL) AS nps_state,
    uniqExactStateIf(current_session,
                     current_session != '' AND event_type IN (SELECT event_type FROM parcours.conversion_types))
        AS converting_sessions_state
FROM
(
    SELECT
        c.*,
        if(sm.merged_into != '', sm.merged_into, c.written_session) AS current_session
    FROM
    (
        SELECT
            e.occurred_at AS occurred_at,
            e.touchpoint AS touchpoint,
            e.channel AS channel,
            e.stage AS stage,
            e.event_id AS event_id,
            e.event_type AS event_type,
            e.anchor_id AS anchor_id,
            e.revenue AS revenue,
            e.csat AS csat,
            e.nps AS nps,
            if(es.recut != '', es.recut, e.session_id) AS written_session
        FROM parcours.events AS e
        LEFT JOIN
        (
            SELECT event_id AS recut_event, argMax(session_id, version) AS recut
            FROM parcours.event_sessions
            WHERE event_id IN (SELECT event_id FROM parcours.events)
            GROUP BY event_id
        ) AS es ON es.recut_event = e.event_id
    ) AS c
    LEFT JOIN
    (
        SELECT from_session, argMin(to_session, to_order) AS merged_into
        FROM parcours.session_merges
        WHERE from_session IN (SELECT session_id FROM parcours.events)
           OR from_session IN (SELECT session_id FROM parcours.event_sessions
                               WHERE event_id IN (SELECT event_id FROM parcours.events))
        GROUP BY from_session
    ) AS sm ON sm.from_session = c.written_session
)
GROUP BY day, touchpoint, channel, stage;
