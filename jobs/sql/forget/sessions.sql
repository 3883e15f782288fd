-- The person's sessions: every version written under one of its ids (re-sessionized ones
-- included), plus the sessions merged into or out of them.
WITH own AS (SELECT DISTINCT session_id FROM parcours.sessions WHERE person_id IN {anchors:Array(String)})
SELECT session_id FROM own
UNION DISTINCT
SELECT from_session AS session_id FROM parcours.session_merges WHERE to_session IN (SELECT session_id FROM own)
UNION DISTINCT
SELECT to_session AS session_id FROM parcours.session_merges WHERE from_session IN (SELECT session_id FROM own)
