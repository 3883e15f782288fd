-- v_events: an event that carries only shared identifiers (a tap on the family tablet, an open
-- of the household email) is now written with an empty anchor_id, not an id of its own that
-- looked like any anchor. So the view can tell all such events apart, whether they were
-- resolved before the identifier was found shared (anchor = the shared identifier) or after
-- (anchor = ''), and both take the person of their session. `parcours resessionize` (and the
-- clean-up after a replay) places them in the session of the login around them in event time
-- (jobs/taps.py), so the answer does not depend on the order the events arrived in.
CREATE OR REPLACE VIEW parcours.v_events AS
SELECT
    e.event_id AS event_id,
    e.occurred_at AS occurred_at,
    multiIf(e.anchor_id = '' OR e.anchor_id IN (SELECT anchor_id FROM parcours.identity_shared), sp.person_id,
            pm.person_id != '', pm.person_id, e.person_id) AS person_id,
    es.session_id AS session_id,
    e.event_type AS event_type,
    e.channel AS channel,
    e.touchpoint AS touchpoint,
    e.stage AS stage,
    e.revenue AS revenue,
    e.currency AS currency,
    e.order_id AS order_id,
    e.csat AS csat,
    e.nps AS nps,
    e.properties AS properties,
    e.ingested_at AS ingested_at
FROM parcours.events AS e FINAL
LEFT JOIN parcours.person_map AS pm ON pm.from_person = e.anchor_id
LEFT JOIN parcours.event_session AS es ON es.event_id = e.event_id
LEFT JOIN (SELECT session_id, person_id FROM parcours.v_sessions) AS sp ON sp.session_id = es.session_id
SETTINGS join_use_nulls = 0;
