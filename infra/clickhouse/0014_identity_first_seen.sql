-- An identifier's first sighting is the earliest event time any worker or run has seen it at.
-- The identity stage writes an identifier's row again when it meets the identifier earlier
-- than it knew (a late event, a later batch, a key learnt from another worker's links, a
-- restarted worker), but `identities` is a ReplacingMergeTree without a version: a merge
-- keeps the row inserted last, which need not be the earliest. So every row inserted is
-- also folded into `identity_first_seen`, which keeps the minimum (an aggregate: merges
-- cannot lose it), and v_identities reads the earlier of the two. Rows written before this
-- migration are read from `identities` alone.
-- ORDER BY (kind, value): the aggregation key, one row per identifier after merges.
CREATE TABLE IF NOT EXISTS parcours.identity_first_seen
(
    kind        LowCardinality(String),
    value       String,
    first_seen  SimpleAggregateFunction(min, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (kind, value);

CREATE MATERIALIZED VIEW IF NOT EXISTS parcours.identity_first_seen_mv TO parcours.identity_first_seen AS
SELECT kind, value, first_seen FROM parcours.identities;

CREATE OR REPLACE VIEW parcours.v_identities AS
SELECT
    i.kind AS kind,
    i.value AS value,
    if(pm.person_id != '', pm.person_id, i.person_id) AS person_id,
    if(f.kind = '', i.first_seen, least(i.first_seen, f.earliest)) AS first_seen,
    toUInt8((i.kind, i.value) IN (SELECT kind, value FROM parcours.identity_shared)) AS shared
FROM parcours.identities AS i FINAL
LEFT JOIN parcours.person_map AS pm ON pm.from_person = i.anchor_id
LEFT JOIN
(
    SELECT kind, value, min(first_seen) AS earliest FROM parcours.identity_first_seen GROUP BY kind, value
) AS f ON f.kind = i.kind AND f.value = i.value
SETTINGS join_use_nulls = 0;
