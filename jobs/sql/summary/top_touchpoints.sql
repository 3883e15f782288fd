-- The ten busiest touchpoints (with their channel); revenue counts conversion events only.
-- Parameter {types}: conversion event types.
SELECT
    touchpoint,
    channel,
    count() AS events,
    uniqExactIf(person_id, person_id != '') AS persons,
    sumIf(revenue, has({types:Array(String)}, event_type)) AS revenue
FROM parcours.v_events
GROUP BY touchpoint, channel
ORDER BY events DESC, touchpoint ASC, channel ASC
LIMIT 10
