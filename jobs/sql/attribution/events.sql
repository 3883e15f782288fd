-- Every event of a known person, for the non-converting journeys (built in polars).
SELECT
    person_id,
    event_id,
    toUnixTimestamp64Milli(occurred_at) AS at_ms,
    channel,
    toUInt8(event_type IN (SELECT event_type FROM parcours.conversion_types)) AS is_conversion
FROM parcours.v_events
WHERE person_id != ''
