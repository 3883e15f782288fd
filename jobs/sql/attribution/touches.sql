-- Converting journeys: T(c) for every conversion, in touch order (the same touches the rule
-- models credit, so every model splits the same journeys).
SELECT conversion_id, person_id, revenue, event_id, position, touchpoint, channel
FROM parcours.v_attribution_touches
ORDER BY conversion_id ASC, position ASC
