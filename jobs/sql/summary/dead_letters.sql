-- Dead letters by reason code (the text of the reason before the first ':').
-- FINAL collapses retried sink batches (same source) onto one row.
SELECT
    trimBoth(splitByChar(':', reason)[1]) AS code,
    count() AS dead_letters
FROM parcours.dead_letters FINAL
GROUP BY code
ORDER BY dead_letters DESC, code ASC
