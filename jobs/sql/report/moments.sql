-- Moments of truth: touchpoints where satisfied and dissatisfied customers' repurchase rates
-- differ most (separation), the ten strongest. A touchpoint with fewer than 5 answers on either
-- side ranks after those with 5 or more on both: one dissatisfied customer who came back is not
-- a finding.
SELECT
    touchpoint,
    responses,
    repurchase_rate_satisfied,
    repurchase_rate_dissatisfied,
    separation,
    satisfied_responses,
    dissatisfied_responses
FROM parcours.v_moments_of_truth
ORDER BY least(satisfied_responses, dissatisfied_responses) >= 5 DESC, separation DESC, responses DESC,
    touchpoint ASC
LIMIT 10
