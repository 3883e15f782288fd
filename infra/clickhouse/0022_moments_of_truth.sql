-- Moments of truth (0006) among customers only: "buys again" needs a purchase before. An
-- answer counts when its person had converted at or before it (a customer rating delivery,
-- billing, the hotline); a prospect's answer, before any purchase, would count a first purchase
-- as buying again (on an audit's data, 396 of 482 hotline answers were prospects'). Otherwise
-- as 0006: the unit is an answer; satisfied = csat >= 4 or nps >= 9, dissatisfied = csat <= 2
-- or nps <= 6 (an answer can be both); it "buys again" when its person has a conversion
-- strictly after the answer; separation = satisfied rate - dissatisfied rate, NULL when one
-- side has no answer.
CREATE OR REPLACE VIEW parcours.v_moments_of_truth AS
SELECT
    touchpoint,
    count() AS responses,
    if(countIf(satisfied) = 0, NULL, countIf(satisfied AND bought_again) / countIf(satisfied))
        AS repurchase_rate_satisfied,
    if(countIf(dissatisfied) = 0, NULL, countIf(dissatisfied AND bought_again) / countIf(dissatisfied))
        AS repurchase_rate_dissatisfied,
    repurchase_rate_satisfied - repurchase_rate_dissatisfied AS separation,
    countIf(satisfied) AS satisfied_responses,
    countIf(dissatisfied) AS dissatisfied_responses
FROM
(
    SELECT
        r.touchpoint AS touchpoint,
        ifNull(r.csat >= 4, 0) OR ifNull(r.nps >= 9, 0) AS satisfied,
        ifNull(r.csat <= 2, 0) OR ifNull(r.nps <= 6, 0) AS dissatisfied,
        arrayExists(t -> t > toUnixTimestamp64Milli(r.occurred_at), c.times) AS bought_again
    FROM parcours.v_ratings AS r
    INNER JOIN
    (
        SELECT person_id, groupArray(toUnixTimestamp64Milli(occurred_at)) AS times
        FROM parcours.v_conversions
        WHERE person_id != ''
        GROUP BY person_id
    ) AS c ON c.person_id = r.person_id
    WHERE arrayExists(t -> t <= toUnixTimestamp64Milli(r.occurred_at), c.times)
)
GROUP BY touchpoint
ORDER BY separation DESC, responses DESC, touchpoint;
