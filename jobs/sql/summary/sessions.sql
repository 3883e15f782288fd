-- Session headline numbers: count, mean events per session, bounces (single-event sessions),
-- and the sessions that converted (the conversion rate's numerator: a session buying twice is one).
SELECT
    count() AS sessions,
    avg(event_count) AS avg_session_events,
    countIf(event_count = 1) AS bounces,
    countIf(converted = 1) AS converted_sessions
FROM parcours.v_sessions
