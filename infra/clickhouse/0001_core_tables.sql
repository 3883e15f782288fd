-- Core fact tables. Facts keep the person and session id known when they were written;
-- re-attribution after merges happens in the views (0002) through the *_merges tables.
CREATE DATABASE IF NOT EXISTS parcours;

-- One row per valid event. `anchor_id` names the identifier the person was resolved through:
-- the views follow it to the current person. ReplacingMergeTree collapses re-deliveries of the same event
-- (retried sink batches, replays) at merge time and under FINAL in the views.
-- ORDER BY: day and event type first (funnels and daily rollups filter on them), then the
-- event id that makes the key unique.
-- PARTITION BY month: few parts on small installs, and old months can be dropped whole.
CREATE TABLE IF NOT EXISTS parcours.events
(
    event_id     String,
    occurred_at  DateTime64(3, 'UTC'),
    person_id    String,
    anchor_id    String,
    session_id   String,
    event_type   LowCardinality(String),
    channel      LowCardinality(String),
    touchpoint   LowCardinality(String),
    stage        LowCardinality(String),
    revenue      Float64,
    currency     LowCardinality(String),
    order_id     String,
    csat         Nullable(UInt8),
    nps          Nullable(UInt8),
    identifiers  Map(String, String),
    properties   String,
    context      String,
    ingested_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (toDate(occurred_at), event_type, event_id);

-- One row per emitted version of a session; the highest version wins.
-- ORDER BY session_id: the replacing key.
CREATE TABLE IF NOT EXISTS parcours.sessions
(
    session_id        String,
    person_id         String,
    started_at        DateTime64(3, 'UTC'),
    ended_at          DateTime64(3, 'UTC'),
    event_count       UInt32,
    channels          Array(String),
    entry_touchpoint  String,
    exit_touchpoint   String,
    converted         UInt8,
    revenue           Float64,
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY session_id;

-- Identifiers (email/phone hashed) with the person they were first seen with.
-- ORDER BY (kind, value): the replacing key and the lookup path.
CREATE TABLE IF NOT EXISTS parcours.identities
(
    kind        LowCardinality(String),
    value       String,
    person_id   String,
    anchor_id   String,
    first_seen  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (kind, value);

-- Where each anchor used in facts (an identifier's node id; a person id is the node id of its
-- naming identifier) points now: merges (two persons are one), renames (a
-- stronger identifier arrived) and splits (a shared identifier stopped gluing two customers).
-- The latest version wins: workers only ever learn more, so their last word is right.
-- ORDER BY from_person: the replacing key, one current row per person id used in facts.
CREATE TABLE IF NOT EXISTS parcours.person_merges
(
    from_person  String,
    to_person    String,
    reason       LowCardinality(String),
    event_id     String,
    merged_at    DateTime64(3, 'UTC'),
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY from_person;

-- Sessions absorbed into another (a late event bridged them, or their persons merged).
-- to_order = start time then id: the surviving session is the earliest.
-- ORDER BY (from_session, to_session): the replacing key.
CREATE TABLE IF NOT EXISTS parcours.session_merges
(
    from_session  String,
    to_session    String,
    to_order      String,
    merged_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (from_session, to_session);

-- Rejected input, PII-masked. `source` is topic/partition/offset: unique per raw message,
-- so ORDER BY source makes a retried batch collapse onto the same rows.
CREATE TABLE IF NOT EXISTS parcours.dead_letters
(
    received_at  DateTime64(3, 'UTC'),
    source       String,
    reason       String,
    raw          String,
    replay_id    String
)
ENGINE = ReplacingMergeTree
ORDER BY source;

-- End-of-input barriers reached by the sink, one row per facts partition (see pipeline/barrier.py).
-- ORDER BY (barrier_id, partition): the replacing key, and replay looks barriers up by id.
CREATE TABLE IF NOT EXISTS parcours.pipeline_barriers
(
    barrier_id    String,
    partition     UInt16,
    completed_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (barrier_id, partition);

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

-- Session assignments written by the re-sessionization job (jobs/resessionize.py) for the
-- events of merged persons: they win over the session the streaming stage gave.
-- ORDER BY event_id: the replacing key; the highest version wins.
CREATE TABLE IF NOT EXISTS parcours.event_sessions
(
    event_id    String,
    session_id  String,
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY event_id;
