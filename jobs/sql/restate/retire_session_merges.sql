-- Withdraw them (a lightweight delete: rows are masked at once, removed at the next merge).
DELETE FROM parcours.session_merges
WHERE merged_at >= fromUnixTimestamp64Milli({since:Int64}) AND merged_at < fromUnixTimestamp64Milli({until:Int64})
