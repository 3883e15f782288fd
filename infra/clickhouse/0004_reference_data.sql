-- Reference data the analytical views join: copies of schemas/*.toml, re-synced by every
-- `parcours migrate` (pipeline/sink/reference.py), so the SQL never hard-codes a taxonomy.

-- Event types that count as conversions (schemas/taxonomy.toml conversion_event_types).
-- ORDER BY event_type: the replacing key.
CREATE TABLE IF NOT EXISTS parcours.conversion_types
(
    event_type String
)
ENGINE = ReplacingMergeTree
ORDER BY event_type;

-- Channel -> category (face_to_face, remote, automated, live_assist), ownership (paid, owned,
-- earned) and default stage (schemas/taxonomy.toml [channels]).
-- ORDER BY channel: the replacing key.
CREATE TABLE IF NOT EXISTS parcours.channel_taxonomy
(
    channel        String,
    category       LowCardinality(String),
    ownership      LowCardinality(String),
    default_stage  LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY channel;

-- Attribution settings (schemas/attribution.toml), a single row.
-- ORDER BY tuple(): one row, replaced on every sync.
CREATE TABLE IF NOT EXISTS parcours.attribution_settings
(
    lookback_days   Float64,
    half_life_days  Float64,
    first_share     Float64,
    last_share      Float64,
    synced_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(synced_at)
ORDER BY tuple();

-- Conversions: every event of a conversion type, with its current person and session.
CREATE OR REPLACE VIEW parcours.v_conversions AS
SELECT
    event_id AS conversion_id,
    person_id,
    session_id,
    occurred_at,
    event_type,
    channel,
    touchpoint,
    revenue
FROM parcours.v_events
WHERE event_type IN (SELECT event_type FROM parcours.conversion_types);
