-- Stable views for BI tools. Person and session ids are the *current* canonical ids:
-- history is re-attributed through the merge tables without rewriting facts.

CREATE OR REPLACE VIEW parcours.person_map AS
SELECT from_person, argMax(to_person, version) AS person_id
FROM parcours.person_merges
GROUP BY from_person;

CREATE OR REPLACE VIEW parcours.session_map AS
SELECT from_session, argMin(to_session, to_order) AS session_id
FROM parcours.session_merges
GROUP BY from_session;

CREATE OR REPLACE VIEW parcours.v_events AS
SELECT
    e.event_id AS event_id,
    e.occurred_at AS occurred_at,
    if(pm.person_id != '', pm.person_id, e.person_id) AS person_id,
    if(sm.session_id != '', sm.session_id, e.session_id) AS session_id,
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
LEFT JOIN parcours.session_map AS sm ON sm.from_session = e.session_id
SETTINGS join_use_nulls = 0;

CREATE OR REPLACE VIEW parcours.v_sessions AS
SELECT
    s.session_id AS session_id,
    if(pm.person_id != '', pm.person_id, s.person_id) AS person_id,
    s.started_at AS started_at,
    s.ended_at AS ended_at,
    s.event_count AS event_count,
    s.channels AS channels,
    s.entry_touchpoint AS entry_touchpoint,
    s.exit_touchpoint AS exit_touchpoint,
    s.converted AS converted,
    s.revenue AS revenue
FROM parcours.sessions AS s FINAL
LEFT JOIN parcours.person_map AS pm ON pm.from_person = s.person_id
WHERE s.session_id NOT IN (SELECT from_session FROM parcours.session_merges)
SETTINGS join_use_nulls = 0;

CREATE OR REPLACE VIEW parcours.v_identities AS
SELECT
    i.kind AS kind,
    i.value AS value,
    if(pm.person_id != '', pm.person_id, i.person_id) AS person_id,
    i.first_seen AS first_seen
FROM parcours.identities AS i FINAL
LEFT JOIN parcours.person_map AS pm ON pm.from_person = i.anchor_id
SETTINGS join_use_nulls = 0;
