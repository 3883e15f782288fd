-- Headline numbers over all events: volume, persons, conversions, revenue, satisfaction.
-- Parameter {types}: conversion event types (schemas/taxonomy.toml).
SELECT
    count() AS events,
    uniqExactIf(person_id, person_id != '') AS persons,
    countIf(has({types:Array(String)}, event_type)) AS conversions,
    sumIf(revenue, has({types:Array(String)}, event_type)) AS revenue,
    avg(csat) AS csat_avg,
    if(count(nps) = 0, NULL,
       100 * (countIf(nps >= 9) - countIf(nps <= 6)) / count(nps)) AS nps
FROM parcours.v_events
