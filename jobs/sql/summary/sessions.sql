-- Session headline numbers: count, mean events per session, bounces (single-event sessions).
SELECT
    count() AS sessions,
    avg(event_count) AS avg_session_events,
    countIf(event_count = 1) AS bounces
FROM parcours.v_sessions
