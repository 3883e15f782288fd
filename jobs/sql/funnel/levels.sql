-- Funnel: how far each person got through the steps, in order, within the window.
-- windowFunnel needs an unsigned timestamp: epoch milliseconds keep the DateTime64(3) order
-- (two steps one second apart stay ordered), so the window is in milliseconds too.
-- /*STEPS*/ is replaced by the step conditions (`event_type = {s0:String}`, ...), built in
-- jobs/funnel.py from fixed templates: step names only ever travel as query parameters.
-- 'strict_once': each step is an event of its own, so `purchase purchase` counts the persons
-- who bought twice, not every buyer (one event matching both conditions moves one step).
-- The entry channel is the channel of the person's earliest event matching the first step.
-- Only events matching some step are read: the others cannot move a person forward.
SELECT
    channel,
    level,
    count() AS persons
FROM
(
    SELECT
        person_id,
        windowFunnel({window_ms:UInt64}, 'strict_once')(toUInt64(toUnixTimestamp64Milli(occurred_at)), /*STEPS*/) AS level,
        argMinIf(toString(channel), (occurred_at, event_id), /*FIRST*/) AS channel
    FROM parcours.v_events
    WHERE person_id != '' AND (/*ANY*/)
    GROUP BY person_id
)
WHERE level > 0
GROUP BY channel, level
ORDER BY channel, level
