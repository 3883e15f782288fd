-- Touchpoint -> next touchpoint, summed over same-session and cross-session moves, each side
-- labelled with its busiest channel. Self-loops are left out: a Sankey cannot draw them.
-- The renderer keeps the top ~25 links that form no cycle. Columns are qualified (t.) so
-- that the output aliases do not shadow them inside the aggregates.
SELECT
    t.from_touchpoint AS from_touchpoint,
    argMax(t.from_channel, t.transitions) AS from_channel,
    t.to_touchpoint AS to_touchpoint,
    argMax(t.to_channel, t.transitions) AS to_channel,
    sum(t.transitions) AS transitions,
    max(t.persons) AS persons
FROM parcours.v_transitions AS t
WHERE t.from_touchpoint != t.to_touchpoint
GROUP BY t.from_touchpoint, t.to_touchpoint
ORDER BY transitions DESC, from_touchpoint ASC, to_touchpoint ASC
LIMIT 100
