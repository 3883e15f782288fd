-- The events of the days asked for, each once (its current version, parcours.events_current,
-- 0023: a version superseded by one on another day leaves its day). The rollup's own query
-- (0025: it finds each event's current session itself) runs over this in place of
-- parcours.events.
SELECT * FROM parcours.events_current WHERE toDate(occurred_at) IN {days:Array(Date)}
