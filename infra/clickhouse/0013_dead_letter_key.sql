-- dead_letters collapsed on `source` (topic/partition/offset) alone. The embedded broker keeps
-- nothing between runs, so its offsets start again at 0 for every replay or `parcours up`: two
-- different malformed lines at the same place in two runs had the same key, and a merge kept
-- only one of them, a dead letter lost. The key is now (source, hash of the masked payload):
-- a retried batch (same place, same payload) still collapses, two lines never do. Existing
-- rows get their hash from the default expression when read and merged.
-- Two statements: a column added to the sorting key may not have a default in the same ALTER.
ALTER TABLE parcours.dead_letters
    ADD COLUMN IF NOT EXISTS raw_hash UInt64,
    MODIFY ORDER BY (source, raw_hash);

ALTER TABLE parcours.dead_letters MODIFY COLUMN raw_hash UInt64 DEFAULT cityHash64(raw);
