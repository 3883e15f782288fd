-- One row per UTC day: volume and money from v_kpi_daily, CSAT from v_satisfaction_daily
-- (weighted by responses: v_kpi_daily's per-row averages carry no response counts).
SELECT
    day,
    sum(events) AS events,
    sum(conversions) AS conversions,
    sum(revenue) AS revenue,
    if(sum(csat_n) = 0, NULL, sum(csat_sum) / sum(csat_n)) AS csat_avg
FROM
(
    SELECT
        day,
        toUInt64(sum(events)) AS events,
        toUInt64(sum(conversions)) AS conversions,
        toFloat64(sum(revenue)) AS revenue,
        toFloat64(0) AS csat_sum,
        toUInt64(0) AS csat_n
    FROM parcours.v_kpi_daily
    GROUP BY day
    UNION ALL
    SELECT
        day,
        toUInt64(0) AS events,
        toUInt64(0) AS conversions,
        toFloat64(0) AS revenue,
        toFloat64(sum(csat_avg * responses_csat)) AS csat_sum,
        toUInt64(sum(responses_csat)) AS csat_n
    FROM parcours.v_satisfaction_daily
    WHERE responses_csat > 0
    GROUP BY day
)
GROUP BY day
ORDER BY day
