-- Every event with its current person and session, its anchor (the identifier its person was
-- resolved through), and whether it carries only shared identifiers (on_shared).
-- An event resolved through an identifier found shared later (anchor = a shared one) that also
-- carried one of its own is not a tap: it takes the current person of its strongest own
-- identifier ({kinds}: the kinds, strongest first), whatever the order the events arrived in.
-- session_person: the person of the event's session row, which differs from the event's own
-- when a person split off after its sessions were merged into another's. session_*: the rest
-- of that row, to find rows their events no longer agree with (jobs/resessionize.py stale()).
SELECT
    v.event_id AS event_id,
    if(o.person_id != '', o.person_id, v.person_id) AS person_id,
    v.person_id AS view_person,
    v.session_id AS session_id,
    sp.person_id AS session_person,
    toUnixTimestamp64Milli(sp.started_at) AS session_started,
    toUnixTimestamp64Milli(sp.ended_at) AS session_ended,
    sp.event_count AS session_events,
    sp.revenue AS session_revenue,
    toUnixTimestamp64Milli(v.occurred_at) AS occurred_at,
    v.event_type AS event_type,
    v.channel AS channel,
    v.touchpoint AS touchpoint,
    v.revenue AS revenue,
    e.anchor_id AS anchor_id,
    toBool((e.anchor_id = '' OR e.anchor_id IN (SELECT anchor_id FROM parcours.identity_shared))
           AND o.person_id = '') AS on_shared
FROM parcours.v_events AS v
JOIN (SELECT event_id, anchor_id FROM parcours.events_current) AS e ON e.event_id = v.event_id
LEFT JOIN (SELECT session_id, person_id, started_at, ended_at, event_count, revenue FROM parcours.v_sessions) AS sp
    ON sp.session_id = v.session_id
LEFT JOIN
(
    SELECT c.event_id AS event_id,
           argMin(i.person_id, (if((indexOf({kinds:Array(String)}, c.kind) AS rank) = 0, 1000, rank), c.value))
               AS person_id
    FROM
    (
        SELECT event_id, kind, value
        FROM parcours.events_current
        ARRAY JOIN mapKeys(identifiers) AS kind, mapValues(identifiers) AS value
        WHERE anchor_id IN (SELECT anchor_id FROM parcours.identity_shared)
    ) AS c
    JOIN parcours.v_identities AS i ON i.kind = c.kind AND i.value = c.value
    WHERE i.shared = 0
    GROUP BY c.event_id
) AS o ON o.event_id = v.event_id
SETTINGS join_use_nulls = 0
