-- The identity graph, for explanations (`parcours identity show`) and stitching statistics.

-- Identifier groups that linked something, with the earliest event that carried each.
-- ORDER BY (event_id, identifiers): the replacing key (several workers may publish one group).
CREATE TABLE IF NOT EXISTS parcours.identity_links
(
    event_id     String,
    occurred_at  DateTime64(3, 'UTC'),
    identifiers  Array(String),
    recorded_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (event_id, identifiers);

-- Links refused by a per-kind limit: `refused` was not joined to `kept` because the person
-- would have held two values of `kind`.
-- ORDER BY (event_id, kept, refused): the replacing key.
CREATE TABLE IF NOT EXISTS parcours.identity_refusals
(
    event_id     String,
    kept         String,
    refused      String,
    kind         LowCardinality(String),
    recorded_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (event_id, kept, refused);

-- Identifiers marked shared (kiosks, family tablets): they no longer link persons.
-- ORDER BY (kind, value): the replacing key.
CREATE TABLE IF NOT EXISTS parcours.identity_shared
(
    kind       LowCardinality(String),
    value      String,
    anchor_id  String,
    marked_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (kind, value);

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

-- An event resolved through an identifier later found shared (a tap on the family tablet
-- between two logins) cannot name its person by itself any more: it takes the person of its
-- session, i.e. of the events around it. Otherwise events follow their anchor.
CREATE OR REPLACE VIEW parcours.v_events AS
SELECT
    e.event_id AS event_id,
    e.occurred_at AS occurred_at,
    multiIf(e.anchor_id IN (SELECT anchor_id FROM parcours.identity_shared), sp.person_id,
            pm.person_id != '', pm.person_id, e.person_id) AS person_id,
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
LEFT JOIN (SELECT session_id, person_id FROM parcours.v_sessions) AS sp
    ON sp.session_id = if(sm.session_id != '', sm.session_id, e.session_id)
SETTINGS join_use_nulls = 0;

-- Stitching statistics, the numbers `parcours identity stats` prints.
CREATE OR REPLACE VIEW parcours.v_identity_stats AS
SELECT
    (SELECT uniqExact(person_id) FROM parcours.v_identities WHERE shared = 0) AS persons,
    (SELECT count() FROM parcours.identities FINAL) AS identifiers,
    (SELECT countIf(from_person != to_person) FROM parcours.person_merges FINAL) AS merges,
    (SELECT count() FROM parcours.identity_refusals FINAL) AS refusals,
    (SELECT count() FROM parcours.identity_shared FINAL) AS shared_identifiers;
