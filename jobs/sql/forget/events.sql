-- The person's events, with their day (the KPI rollup is rebuilt for those days): resolved
-- through one of its anchors, or placed in one of its sessions (an event anchored on an
-- identifier later found shared belongs to the person of its session).
SELECT DISTINCT event_id, toDate(occurred_at) AS day
FROM parcours.events
WHERE anchor_id IN {anchors:Array(String)}
   OR session_id IN {sessions:Array(String)}
   OR event_id IN (SELECT event_id FROM parcours.event_sessions WHERE session_id IN {sessions:Array(String)})
ORDER BY day, event_id
