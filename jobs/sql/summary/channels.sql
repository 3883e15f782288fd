-- Every channel by volume. Category and ownership come from the taxonomy, in Python.
-- Parameter {types}: conversion event types.
SELECT
    channel,
    count() AS events,
    uniqExactIf(person_id, person_id != '') AS persons,
    uniqExactIf(session_id, session_id != '') AS sessions,
    countIf(has({types:Array(String)}, event_type)) AS conversions,
    sumIf(revenue, has({types:Array(String)}, event_type)) AS revenue
FROM parcours.v_events
GROUP BY channel
ORDER BY events DESC, channel ASC
