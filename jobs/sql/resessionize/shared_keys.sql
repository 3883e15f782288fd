-- For every event that carried a shared identifier: that identifier (via), the event's time,
-- its current person, and whether it also carried an identifier of its own (a login).
SELECT
    s.anchor_id AS via,
    toUnixTimestamp64Milli(v.occurred_at) AS occurred_at,
    v.event_id AS event_id,
    v.person_id AS person_id,
    toBool(e.anchor_id != '' AND e.anchor_id NOT IN (SELECT anchor_id FROM parcours.identity_shared)) AS login
FROM
(
    SELECT event_id, anchor_id, concat(kind, ':', value) AS key
    FROM parcours.events FINAL
    ARRAY JOIN mapKeys(identifiers) AS kind, mapValues(identifiers) AS value
) AS e
JOIN (SELECT DISTINCT anchor_id, concat(kind, ':', value) AS key FROM parcours.identity_shared) AS s ON s.key = e.key
JOIN parcours.v_events AS v ON v.event_id = e.event_id
SETTINGS join_use_nulls = 0
