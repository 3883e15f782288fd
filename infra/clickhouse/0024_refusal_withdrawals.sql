-- A refused link is recorded as long as the current cut refuses it. The identity graph cuts a
-- cluster again whenever it changes, and a refusal made at an intermediate state may no longer
-- hold at the end (a device found shared since, an earlier event that joined the two first):
-- the worker then writes the refusal again with withdrawn = 1, and the replacing key keeps the
-- row written last. Before, every refusal ever made stayed, so their number depended on
-- arrival order, and `parcours identity show` could say "not joined" of an identifier the
-- person holds. A worker writes its refusal rows to one facts partition, so the sink inserts
-- them in the order they were decided; every worker decides the same last state.
ALTER TABLE parcours.identity_refusals ADD COLUMN IF NOT EXISTS withdrawn UInt8 DEFAULT 0;

-- Counted and listed: the refusals that hold.
CREATE OR REPLACE VIEW parcours.v_identity_stats AS
SELECT
    (SELECT uniqExact(person_id) FROM parcours.v_identities WHERE shared = 0) AS persons,
    (SELECT count() FROM parcours.identities FINAL) AS identifiers,
    (SELECT countIf(from_person != to_person) FROM parcours.person_merges FINAL) AS merges,
    (SELECT count() FROM parcours.identity_refusals FINAL WHERE withdrawn = 0) AS refusals,
    (SELECT count() FROM parcours.identity_shared FINAL) AS shared_identifiers;

CREATE OR REPLACE VIEW parcours.v_identity_changes AS
SELECT merged_at AS changed_at, 'merges' AS change, '' AS identifier_kind
FROM parcours.person_merges FINAL
WHERE from_person != to_person
UNION ALL
SELECT recorded_at AS changed_at, 'refusals' AS change, toString(kind) AS identifier_kind
FROM parcours.identity_refusals FINAL
WHERE withdrawn = 0
UNION ALL
SELECT marked_at AS changed_at, 'shared' AS change, toString(kind) AS identifier_kind
FROM parcours.identity_shared FINAL;
