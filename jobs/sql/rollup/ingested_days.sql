-- The days of the events written since a moment (a replay's start): the days it may have
-- rolled up under sessions it has since re-cut.
SELECT DISTINCT toDate(occurred_at) FROM parcours.events WHERE ingested_at >= fromUnixTimestamp64Milli({since:Int64})
