-- The versions of events a later version superseded (0023: an event_id re-sent with another day
-- or event_type), with their day and the session they were cut into (the streaming session
-- followed through session_merges): the current version may lie in another session and on
-- another day, so that session is re-cut and that day of the KPI rollup restated.
SELECT
    e.event_id AS event_id,
    toDate(e.occurred_at) AS day,
    if(sm.session_id != '', sm.session_id, e.session_id) AS session_id
FROM parcours.events AS e FINAL
LEFT JOIN parcours.session_map AS sm ON sm.from_session = e.session_id
WHERE (e.event_id, toDate(e.occurred_at), toString(e.event_type))
      IN (SELECT event_id, day, event_type FROM parcours.events_superseded)
SETTINGS join_use_nulls = 0
