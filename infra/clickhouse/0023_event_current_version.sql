-- One event per event_id. The ReplacingMergeTree key of parcours.events is (day of occurred_at,
-- event_type, event_id), so FINAL collapses re-deliveries of an unchanged event only: an id
-- re-sent later with another day or event_type (a corrected re-send in a later replay, a
-- re-delivery after the ingest's de-duplication window) kept both rows, and v_events showed
-- the event twice. The version ingested last is the event (what the engine already keeps within
-- one key); ties on ingested_at go to the later day, then the greater event_type, so the choice
-- never depends on the order of parts. Everything that means "the events" reads
-- parcours.events_current; v_event_writes and the KPI rollup's materialized view still see the
-- rows as written (the rollup's days of both versions are restated after a replay and by
-- `parcours resessionize`, jobs/rollup.py).

-- The keys of the versions that lost, one row per (event_id, day, event_type). Two passes over
-- the narrow key columns, without FINAL: the ids written under more than one key (few), then
-- the latest key of each of those ids. Of a key, the row with the greatest ingested_at is the
-- one FINAL keeps, so the overall greatest names the key that wins. The first pass groups by a
-- hash of the id and compares day and type apart (7x faster on 1 M events than the id string
-- and a tuple): a hash collision only adds a candidate, which the second pass, by id, drops.
CREATE OR REPLACE VIEW parcours.events_superseded AS
SELECT event_id, key.1 AS day, key.2 AS event_type
FROM
(
    SELECT
        event_id,
        groupUniqArray((toDate(occurred_at), toString(event_type))) AS keys,
        argMax((toDate(occurred_at), toString(event_type)),
               (ingested_at, toDate(occurred_at), toString(event_type))) AS latest
    FROM parcours.events
    WHERE cityHash64(event_id) IN
    (
        SELECT cityHash64(event_id) AS id_hash
        FROM parcours.events
        GROUP BY id_hash
        HAVING min(toDate(occurred_at)) != max(toDate(occurred_at)) OR min(event_type) != max(event_type)
    )
    GROUP BY event_id
)
ARRAY JOIN keys AS key
WHERE key != latest;

-- The current version of every event: the columns of parcours.events, one row per event_id.
CREATE OR REPLACE VIEW parcours.events_current AS
SELECT *
FROM parcours.events FINAL
WHERE (event_id, toDate(occurred_at), toString(event_type))
      NOT IN (SELECT event_id, day, event_type FROM parcours.events_superseded);

-- 0002's event_session and 0012's v_events over the current versions (otherwise unchanged).
CREATE OR REPLACE VIEW parcours.event_session AS
SELECT
    e.event_id AS event_id,
    e.occurred_at AS occurred_at,
    e.channel AS channel,
    multiIf(es.session_id != '', es.session_id, sm.session_id != '', sm.session_id, e.session_id) AS session_id
FROM parcours.events_current AS e
LEFT JOIN (SELECT event_id, argMax(session_id, version) AS session_id FROM parcours.event_sessions GROUP BY event_id) AS es
    ON es.event_id = e.event_id
LEFT JOIN parcours.session_map AS sm ON sm.from_session = e.session_id
SETTINGS join_use_nulls = 0;

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
FROM parcours.events_current AS e
LEFT JOIN parcours.person_map AS pm ON pm.from_person = e.anchor_id
LEFT JOIN parcours.event_session AS es ON es.event_id = e.event_id
LEFT JOIN (SELECT session_id, person_id FROM parcours.v_sessions) AS sp ON sp.session_id = es.session_id
SETTINGS join_use_nulls = 0;
