-- Events and persons per journey stage, in funnel order; stages outside the funnel last.
-- Parameter {stages}: the funnel order (schemas/taxonomy.toml `stages`).
SELECT
    stage,
    count() AS events,
    uniqExactIf(person_id, person_id != '') AS persons
FROM parcours.v_events
GROUP BY stage
ORDER BY indexOf({stages:Array(String)}, stage) = 0, indexOf({stages:Array(String)}, stage), stage
