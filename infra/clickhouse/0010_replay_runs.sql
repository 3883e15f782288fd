-- Replays recorded while they run, so that a replay killed part-way is known to the next one:
-- the next replay re-sessionizes every person once it has finished (jobs/replay.py), which
-- retires the sessions the killed run had cut from part of its input.
-- ORDER BY replay_id: the replacing key; the row with the latest updated_at is the state.
CREATE TABLE IF NOT EXISTS parcours.replay_runs
(
    replay_id   String,
    files       Array(String),
    host        String,
    pid         UInt32,
    status      LowCardinality(String),  -- running | done | interrupted
    lines       UInt64,
    started_at  DateTime64(3, 'UTC'),
    updated_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY replay_id;

-- v_sessions (0002) keeps only sessions that still hold an event: a session cut by a run that
-- was killed, and whose events a later run placed elsewhere, owns nothing and disappears.
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
INNER JOIN parcours.session_switches AS sw ON sw.session_id = s.session_id
WHERE s.session_id NOT IN (SELECT from_session FROM parcours.session_merges)
  AND s.event_count > 0  -- 0: retired by a re-sessionization
SETTINGS join_use_nulls = 0;
