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

-- Stitching statistics, the numbers `parcours identity stats` prints.
CREATE OR REPLACE VIEW parcours.v_identity_stats AS
SELECT
    (SELECT uniqExact(person_id) FROM parcours.v_identities WHERE shared = 0) AS persons,
    (SELECT count() FROM parcours.identities FINAL) AS identifiers,
    (SELECT countIf(from_person != to_person) FROM parcours.person_merges FINAL) AS merges,
    (SELECT count() FROM parcours.identity_refusals FINAL) AS refusals,
    (SELECT count() FROM parcours.identity_shared FINAL) AS shared_identifiers;
