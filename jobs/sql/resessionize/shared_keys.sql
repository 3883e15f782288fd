-- Every event that carried a shared identifier, with that identifier (via). Whether the event
-- also carried one of its own (a login), its time and its person come from events.sql.
SELECT s.anchor_id AS via, e.event_id AS event_id
FROM
(
    SELECT event_id, concat(kind, ':', value) AS key
    FROM parcours.events_current
    ARRAY JOIN mapKeys(identifiers) AS kind, mapValues(identifiers) AS value
) AS e
JOIN (SELECT DISTINCT anchor_id, concat(kind, ':', value) AS key FROM parcours.identity_shared) AS s ON s.key = e.key
