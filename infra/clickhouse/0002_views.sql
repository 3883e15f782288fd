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

-- The current session of every event: a re-sessionization override, else the streaming
-- session followed through session_merges. Shared by v_events and v_sessions.
CREATE OR REPLACE VIEW parcours.event_session AS
SELECT
    e.event_id AS event_id,
    e.occurred_at AS occurred_at,
    e.channel AS channel,
    multiIf(es.session_id != '', es.session_id, sm.session_id != '', sm.session_id, e.session_id) AS session_id
FROM parcours.events AS e FINAL
LEFT JOIN (SELECT event_id, argMax(session_id, version) AS session_id FROM parcours.event_sessions GROUP BY event_id) AS es
    ON es.event_id = e.event_id
LEFT JOIN parcours.session_map AS sm ON sm.from_session = e.session_id
SETTINGS join_use_nulls = 0;

-- Channel switches per session: consecutive events (event time) on different channels.
CREATE OR REPLACE VIEW parcours.session_switches AS
SELECT session_id, countIf(n > 1 AND channel != previous) AS channel_switches
FROM
(
    SELECT
        session_id,
        channel,
        row_number() OVER w AS n,
        lagInFrame(channel) OVER w AS previous
    FROM parcours.event_session
    WINDOW w AS (PARTITION BY session_id ORDER BY occurred_at, event_id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
GROUP BY session_id;

CREATE OR REPLACE VIEW parcours.v_sessions AS
SELECT
    s.session_id AS session_id,
    if(pm.person_id != '', pm.person_id, s.person_id) AS person_id,
    s.started_at AS started_at,
    s.ended_at AS ended_at,
    dateDiff('millisecond', s.started_at, s.ended_at) / 1000.0 AS duration_s,
    s.event_count AS event_count,
    s.channels AS channels,
    sw.channel_switches AS channel_switches,
    s.entry_touchpoint AS entry_touchpoint,
    s.exit_touchpoint AS exit_touchpoint,
    toUInt8(s.event_count = 1) AS bounce,
    s.converted AS converted,
    s.revenue AS revenue
FROM parcours.sessions AS s FINAL
LEFT JOIN parcours.person_map AS pm ON pm.from_person = s.person_id
LEFT JOIN parcours.session_switches AS sw ON sw.session_id = s.session_id
WHERE s.session_id NOT IN (SELECT from_session FROM parcours.session_merges)
  AND s.event_count > 0  -- 0: retired by a re-sessionization
SETTINGS join_use_nulls = 0;

-- Events follow their anchor (the identifier their person was resolved through) to its
-- current person. An event resolved through an identifier later found shared (a tap on the
-- family tablet between two logins) cannot name its person by itself any more: it takes the
-- person of its session, i.e. of the events around it.
CREATE OR REPLACE VIEW parcours.v_events AS
SELECT
    e.event_id AS event_id,
    e.occurred_at AS occurred_at,
    multiIf(e.anchor_id IN (SELECT anchor_id FROM parcours.identity_shared), sp.person_id,
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

CREATE OR REPLACE VIEW parcours.v_identities AS
SELECT
    i.kind AS kind,
    i.value AS value,
    if(pm.person_id != '', pm.person_id, i.person_id) AS person_id,
    i.first_seen AS first_seen,
    toUInt8((i.kind, i.value) IN (SELECT kind, value FROM parcours.identity_shared)) AS shared
FROM parcours.identities AS i FINAL
LEFT JOIN parcours.person_map AS pm ON pm.from_person = i.anchor_id
SETTINGS join_use_nulls = 0;
