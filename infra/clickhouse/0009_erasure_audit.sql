-- One row per erasure request (`parcours forget KIND VALUE`, jobs/forget.py): the record that a
-- person's data was erased, when, and how much. It holds no raw personal data: `value_hash` is
-- a keyed hash (the install's PII salt) of "erasure:KIND" and the identifier as stored, so it
-- equals no value in the fact tables and nobody without the salt can test a guess; whoever
-- holds the salt can still answer "was this email erased?" by hashing it again. `person_id` is
-- the erased person's pseudonymous id, which no other table holds any more.
-- status: done | not_found (the identifier matched nobody) | shared (the identifier is shared by
-- several customers and names nobody) | failed (the command stopped part-way: run it again,
-- every step is idempotent). Nothing is erased unless done.
-- deleted: rows deleted per table; `TABLE:scrubbed` = rows of other persons from which the
-- person's identifiers were removed, `kpi_daily_state:rebuilt` = rollup rows recomputed.
-- MergeTree, not Replacing: an audit log is append-only, a repeated request is a new row.
-- ORDER BY (requested_at, request_id): audits are read by time range; the id keeps two
-- requests of the same millisecond apart.
CREATE TABLE IF NOT EXISTS parcours.erasure_audit
(
    request_id    String,
    requested_at  DateTime64(3, 'UTC'),
    completed_at  DateTime64(3, 'UTC'),
    kind          LowCardinality(String),
    value_hash    String,
    person_id     String,
    identifiers   UInt32,
    deleted       Map(String, UInt64),
    notified      UInt8,
    status        LowCardinality(String)
)
ENGINE = MergeTree
ORDER BY (requested_at, request_id);
