-- Identifiers of recorded link groups that have no identities row (a run killed between writing
-- a group and its identifiers), with the earliest event time that carried each.
SELECT key, toUnixTimestamp64Milli(min(occurred_at)) AS first_seen
FROM parcours.identity_links FINAL
ARRAY JOIN identifiers AS key
WHERE key NOT IN (SELECT concat(kind, ':', value) FROM parcours.identities)
GROUP BY key
