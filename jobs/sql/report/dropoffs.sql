-- Where journeys break off: the ten touchpoints that end the most journeys.
SELECT
    touchpoint,
    channel,
    stage,
    journeys_ended,
    share
FROM parcours.v_dropoffs
ORDER BY journeys_ended DESC, touchpoint ASC, channel ASC
LIMIT 10
