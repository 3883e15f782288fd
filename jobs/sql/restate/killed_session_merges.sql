-- The session merges written between a killed replay's start and its rerun's start.
SELECT count() FROM parcours.session_merges
WHERE merged_at >= fromUnixTimestamp64Milli({since:Int64}) AND merged_at < fromUnixTimestamp64Milli({until:Int64})
