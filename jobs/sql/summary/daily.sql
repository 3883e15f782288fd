-- One row per UTC day: events, conversions and revenue by event time; sessions by start day.
-- Parameter {types}: conversion event types.
SELECT
    day,
    sum(events) AS events,
    sum(sessions) AS sessions,
    sum(conversions) AS conversions,
    sum(revenue) AS revenue
FROM
(
    SELECT
        toDate(occurred_at) AS day,
        count() AS events,
        toUInt64(0) AS sessions,
        countIf(has({types:Array(String)}, event_type)) AS conversions,
        sumIf(revenue, has({types:Array(String)}, event_type)) AS revenue
    FROM parcours.v_events
    GROUP BY day
    UNION ALL
    SELECT
        toDate(started_at) AS day,
        toUInt64(0) AS events,
        count() AS sessions,
        toUInt64(0) AS conversions,
        toFloat64(0) AS revenue
    FROM parcours.v_sessions
    GROUP BY day
)
GROUP BY day
ORDER BY day
