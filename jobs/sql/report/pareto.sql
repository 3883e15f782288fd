-- Touchpoints by influenced revenue, with their share and the running (cumulative) share.
SELECT
    touchpoint,
    influenced_revenue,
    share,
    cumulative_share,
    rank
FROM parcours.v_touchpoint_pareto
ORDER BY rank ASC, touchpoint ASC
