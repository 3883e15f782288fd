-- The events that linked the person's identifiers, in event time.
SELECT occurred_at, event_id, identifiers FROM parcours.identity_links FINAL WHERE hasAny(identifiers, {keys:Array(String)}) ORDER BY occurred_at, event_id LIMIT 200
