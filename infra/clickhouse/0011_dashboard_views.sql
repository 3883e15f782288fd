-- Views for the Grafana dashboards (infra/grafana/dashboards/*.json), whose data source logs in
-- as the BI user: its role reads parcours.v_* and nothing else (0008), so every panel reads a
-- view, never a table (tests/schema/test_dashboards.py asks ClickHouse which tables each panel
-- reads). Like every v_* view, these run with their definer's rights (pipeline/sink/access.py).
-- Each exposes only the columns a reader needs: no payload, no person id, no identifier value.

-- Event rows as the sink wrote them, without FINAL: a re-delivered event counts once per write
-- until a merge collapses it, which is what a write rate measures. For the pipeline-health
-- panels (rows written, write rate, ingest lag, late events, time since the last write):
-- v_events counts each event once but joins the identity graph and the sessions, far more work
-- than these panels need. lag_ms: ingested_at - occurred_at, in milliseconds (negative when the
-- sender's clock runs ahead).
CREATE OR REPLACE VIEW parcours.v_event_writes AS
SELECT
    event_id,
    event_type,
    channel,
    occurred_at,
    ingested_at,
    dateDiff('millisecond', occurred_at, ingested_at) AS lag_ms
FROM parcours.events;

-- Rejected raw messages: when, where from (topic/partition/offset), why, and the replay that
-- sent them ('' outside replays). code is the reason code (the part of reason before ':'), the
-- label of parcours_dead_letters_total. The payload (dead_letters.raw, PII-masked but otherwise
-- verbatim) is left out: operators read it with `parcours sql` or from the DLQ topic.
CREATE OR REPLACE VIEW parcours.v_dead_letters AS
SELECT
    received_at,
    source,
    splitByChar(':', reason)[1] AS code,
    reason,
    replay_id
FROM parcours.dead_letters FINAL;

-- End-of-input barriers the sink reached: one row per replay (barrier_id) and facts partition.
CREATE OR REPLACE VIEW parcours.v_pipeline_barriers AS
SELECT barrier_id, partition, completed_at
FROM parcours.pipeline_barriers FINAL;

-- Identity graph changes over time, one row per change: 'merges' (a person id now redirected
-- to another: merge, rename or split), 'refusals' (a link refused by a per-kind limit),
-- 'shared' (an identifier marked shared). The counts of v_identity_stats, spread over time.
-- identifier_kind: the kind refused or marked shared ('' for merges).
CREATE OR REPLACE VIEW parcours.v_identity_changes AS
SELECT merged_at AS changed_at, 'merges' AS change, '' AS identifier_kind
FROM parcours.person_merges FINAL
WHERE from_person != to_person
UNION ALL
SELECT recorded_at AS changed_at, 'refusals' AS change, toString(kind) AS identifier_kind
FROM parcours.identity_refusals FINAL
UNION ALL
SELECT marked_at AS changed_at, 'shared' AS change, toString(kind) AS identifier_kind
FROM parcours.identity_shared FINAL;

-- Storage per table of database parcours, from the active parts: rows (before merges collapse
-- replaced rows), parts (many active parts: inserts come faster than merges), bytes on disk.
-- system.parts lists only the tables its reader may see: this view reads it with its definer's
-- rights, so the BI user sees every parcours table without any grant on system tables.
CREATE OR REPLACE VIEW parcours.v_table_sizes AS
SELECT
    table,
    sum(rows) AS rows,
    count() AS active_parts,
    sum(bytes_on_disk) AS bytes_on_disk
FROM system.parts
WHERE database = 'parcours' AND active
GROUP BY table;

-- Migrations applied to this database (the migrator's ledger, parcours.schema_migrations).
CREATE OR REPLACE VIEW parcours.v_schema_migrations AS
SELECT version, name, applied_at
FROM parcours.schema_migrations FINAL;

-- Reference data (0004, synced from schemas/taxonomy.toml by every migrate): each channel's
-- category, ownership and default stage, and the event types that count as conversions.
CREATE OR REPLACE VIEW parcours.v_channel_taxonomy AS
SELECT channel, category, ownership, default_stage
FROM parcours.channel_taxonomy FINAL;

CREATE OR REPLACE VIEW parcours.v_conversion_types AS
SELECT event_type
FROM parcours.conversion_types FINAL;
