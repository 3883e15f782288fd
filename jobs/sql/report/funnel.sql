-- Purchase funnel: persons reaching each step, in order, within 7 days of their first step
-- (windowFunnel, millisecond timestamps so same-second events keep their order).
-- The steps are listed twice below (conditions and names): keep them in sync.
WITH ['ad_click', 'product_view', 'add_to_cart', 'checkout', 'purchase'] AS steps
SELECT
    toUInt8(number + 1) AS step,
    steps[number + 1] AS event_type,
    countIf(level > number) AS persons
FROM
(
    SELECT
        windowFunnel(7 * 86400 * 1000, 'strict_once')(
            toUInt64(toUnixTimestamp64Milli(occurred_at)),
            event_type = 'ad_click',
            event_type = 'product_view',
            event_type = 'add_to_cart',
            event_type = 'checkout',
            event_type = 'purchase'
        ) AS level
    FROM parcours.v_events
    WHERE person_id != ''
    GROUP BY person_id
) AS per_person
CROSS JOIN numbers(5) AS steps_index
GROUP BY number
ORDER BY number
