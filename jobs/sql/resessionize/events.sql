-- Every event with its current person and session, its anchor (the identifier its person was
-- resolved through), and whether it carries only shared identifiers (anchor '' or shared).
SELECT
    v.event_id AS event_id,
    v.person_id AS person_id,
    v.session_id AS session_id,
    toUnixTimestamp64Milli(v.occurred_at) AS occurred_at,
    v.event_type AS event_type,
    v.channel AS channel,
    v.touchpoint AS touchpoint,
    v.revenue AS revenue,
    e.anchor_id AS anchor_id,
    toBool(e.anchor_id = '' OR e.anchor_id IN (SELECT anchor_id FROM parcours.identity_shared)) AS on_shared
FROM parcours.v_events AS v
JOIN (SELECT event_id, anchor_id FROM parcours.events FINAL) AS e ON e.event_id = v.event_id
SETTINGS join_use_nulls = 0
