-- The events of persons whose history was merged (or all persons with {all:UInt8} = 1),
-- with their current person and session.
SELECT
    event_id,
    person_id,
    session_id,
    toUnixTimestamp64Milli(occurred_at) AS occurred_at,
    event_type,
    channel,
    touchpoint,
    revenue
FROM parcours.v_events
WHERE {all:UInt8} = 1
   OR person_id IN (SELECT to_person FROM parcours.person_merges FINAL WHERE from_person != to_person)
