-- Touchpoint -> next touchpoint, summed over same-session and cross-session moves, each side
-- labelled with its busiest channel, plus each side's order of first appearance: the average
-- rank at which a person first meets that touchpoint (1 = where journeys start). The renderer
-- keeps the top ~25 links that go forward in that order, so the Sankey reads left to right
-- like a journey. Self-loops are left out: a Sankey cannot draw them. Columns are qualified
-- (t.) so that the output aliases do not shadow them inside the aggregates.
WITH first_seen AS
(
    SELECT touchpoint, avg(position) AS first_order
    FROM
    (
        SELECT
            touchpoint,
            rank() OVER (PARTITION BY person_id ORDER BY first_at ASC) AS position
        FROM
        (
            SELECT person_id, toString(touchpoint) AS touchpoint, min(occurred_at) AS first_at
            FROM parcours.v_events
            WHERE person_id != ''
            GROUP BY person_id, touchpoint
        )
    )
    GROUP BY touchpoint
)
SELECT
    l.from_touchpoint AS from_touchpoint,
    l.from_channel AS from_channel,
    l.to_touchpoint AS to_touchpoint,
    l.to_channel AS to_channel,
    l.transitions AS transitions,
    l.persons AS persons,
    f.first_order AS from_order,
    g.first_order AS to_order
FROM
(
    SELECT
        toString(t.from_touchpoint) AS from_touchpoint,
        toString(argMax(t.from_channel, t.transitions)) AS from_channel,
        toString(t.to_touchpoint) AS to_touchpoint,
        toString(argMax(t.to_channel, t.transitions)) AS to_channel,
        sum(t.transitions) AS transitions,
        max(t.persons) AS persons
    FROM parcours.v_transitions AS t
    WHERE t.from_touchpoint != t.to_touchpoint
    GROUP BY t.from_touchpoint, t.to_touchpoint
    ORDER BY transitions DESC, from_touchpoint ASC, to_touchpoint ASC
    LIMIT 100
) AS l
LEFT JOIN first_seen AS f ON f.touchpoint = l.from_touchpoint
LEFT JOIN first_seen AS g ON g.touchpoint = l.to_touchpoint
ORDER BY transitions DESC, from_touchpoint ASC, to_touchpoint ASC
SETTINGS join_use_nulls = 1
