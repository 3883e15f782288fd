-- Satisfaction per touchpoint x stage over the whole period: CSAT averaged over responses
-- (not over days), NPS recomputed from promoter/detractor counts (-100..100). Columns are
-- qualified (s.) so that the output aliases do not shadow them inside the aggregates.
SELECT
    s.touchpoint AS touchpoint,
    s.stage AS stage,
    sum(s.responses_csat) AS responses_csat,
    if(sum(s.responses_csat) = 0, NULL,
       sum(s.csat_avg * s.responses_csat) / sum(s.responses_csat)) AS csat_avg,
    sum(s.responses_nps) AS responses_nps,
    if(sum(s.responses_nps) = 0, NULL,
       100 * (sum(s.promoters) - sum(s.detractors)) / sum(s.responses_nps)) AS nps
FROM parcours.v_satisfaction_daily AS s
GROUP BY s.touchpoint, s.stage
HAVING sum(s.responses_csat) + sum(s.responses_nps) > 0
ORDER BY sum(s.responses_csat) + sum(s.responses_nps) DESC, touchpoint ASC, stage ASC
