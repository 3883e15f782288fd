-- Moments of truth: touchpoints where satisfied and dissatisfied customers' repurchase rates
-- differ most (separation), the ten strongest.
SELECT
    touchpoint,
    responses,
    repurchase_rate_satisfied,
    repurchase_rate_dissatisfied,
    separation
FROM parcours.v_moments_of_truth
ORDER BY separation DESC, responses DESC, touchpoint ASC
LIMIT 10
