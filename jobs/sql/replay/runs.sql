-- The last known state of every replay that is not finished.
SELECT replay_id, host, pid, toUnixTimestamp64Milli(started_at) AS started_ms,
       toUnixTimestamp64Milli(updated_at) AS updated_ms
FROM parcours.replay_runs FINAL
WHERE status = 'running'
