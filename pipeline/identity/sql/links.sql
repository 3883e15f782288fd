-- Every identifier group that changed a graph, in event time (the order one worker learns them).
SELECT identifiers, toUnixTimestamp64Milli(occurred_at) AS occurred_at, event_id
FROM parcours.identity_links FINAL
ORDER BY occurred_at, event_id
