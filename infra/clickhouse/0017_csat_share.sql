-- CSAT as most customer-experience teams report it: the share of answers of 4 or 5 on the
-- 1-5 scale (csat_pct, 0-100), next to the mean (csat_avg, 0006) and the count of satisfied
-- answers (csat_satisfied), so a dashboard can add days and touchpoints up exactly
-- (sum(csat_satisfied) / sum(responses_csat)). New columns go last: BI queries that name the
-- earlier ones are unchanged.
CREATE OR REPLACE VIEW parcours.v_satisfaction_daily AS
SELECT
    toDate(occurred_at) AS day,
    touchpoint,
    channel,
    stage,
    phase,
    count(csat_score) AS responses_csat,
    if(responses_csat = 0, NULL, sum(csat_score) / responses_csat) AS csat_avg,
    count(nps_score) AS responses_nps,
    countIf(ifNull(nps_score >= 9, 0)) AS promoters,
    countIf(ifNull(nps_score <= 6, 0)) AS detractors,
    if(responses_nps = 0, NULL, 100 * (promoters - detractors) / responses_nps) AS nps,
    countIf(ifNull(csat_score >= 4, 0)) AS csat_satisfied,
    if(responses_csat = 0, NULL, 100 * csat_satisfied / responses_csat) AS csat_pct
-- Renamed scores: the output column `nps` must not shadow the input column it aggregates.
FROM (SELECT occurred_at, touchpoint, channel, stage, phase, csat AS csat_score, nps AS nps_score
      FROM parcours.v_ratings)
GROUP BY day, touchpoint, channel, stage, phase
ORDER BY day, touchpoint, channel, stage, phase;
