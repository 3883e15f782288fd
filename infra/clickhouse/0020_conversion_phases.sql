-- Phases relative to each conversion (issue 4: "the phase of each touchpoint relative to each
-- conversion of the person"), and after-sales care kept in the after phase.

-- Stages of after-sales care (schemas/taxonomy.toml after_sales_stages), synced by every
-- `parcours migrate` like the other reference data (0004).
-- ORDER BY stage: the replacing key.
CREATE TABLE IF NOT EXISTS parcours.after_sales_stages
(
    stage String
)
ENGINE = ReplacingMergeTree
ORDER BY stage;

-- One phase per event (as 0006), with one change: an after-sales event (billing, support,
-- survey: after_sales_stages) that follows a purchase of its person is 'after', also when
-- another purchase lies ahead. Before, the delivery complaint of order 1 was the run-up
-- ('before') to order 2. Otherwise: 'during' when its session contains a conversion, else
-- 'before' when the person converts later (at most lookback_days after the event), else
-- 'after' when the person converted earlier (or at the same instant in another session),
-- else 'before': no purchase yet.
CREATE OR REPLACE VIEW parcours.v_event_phases AS
WITH
    (SELECT argMax(lookback_days, synced_at) FROM parcours.attribution_settings) AS lookback_days,
    toInt64(lookback_days * 86400000) AS lookback_ms
SELECT
    e.event_id AS event_id,
    e.person_id AS person_id,
    e.occurred_at AS occurred_at,
    e.touchpoint AS touchpoint,
    e.channel AS channel,
    e.stage AS stage,
    multiIf(
        e.session_id != '' AND e.session_id IN (SELECT session_id FROM parcours.v_conversions WHERE session_id != ''),
        'during',
        e.stage IN (SELECT stage FROM parcours.after_sales_stages)
            AND arrayExists(t -> t <= toUnixTimestamp64Milli(e.occurred_at), c.times),
        'after',
        arrayExists(t -> t > toUnixTimestamp64Milli(e.occurred_at)
                         AND t - toUnixTimestamp64Milli(e.occurred_at) <= lookback_ms, c.times),
        'before',
        arrayExists(t -> t <= toUnixTimestamp64Milli(e.occurred_at), c.times),
        'after',
        'before') AS phase
FROM parcours.v_events AS e
LEFT JOIN
(
    SELECT person_id, groupArray(toUnixTimestamp64Milli(occurred_at)) AS times
    FROM parcours.v_conversions
    WHERE person_id != ''
    GROUP BY person_id
) AS c ON c.person_id = e.person_id
SETTINGS join_use_nulls = 0;

-- Each conversion with the events of its person around it, one row per (conversion, event):
-- 'during' in the conversion's session (the conversion itself included), 'before' earlier and
-- 'after' later, up to lookback_days either side. An event between two purchases is 'after'
-- the first and 'before' the second: ask per conversion "what came before this purchase, and
-- how did the customer fare after it?" (days_from_conversion < 0 before it).
CREATE OR REPLACE VIEW parcours.v_conversion_phases AS
WITH
    (SELECT argMax(lookback_days, synced_at) FROM parcours.attribution_settings) AS lookback_days,
    toInt64(lookback_days * 86400000) AS lookback_ms
SELECT
    c.conversion_id AS conversion_id,
    c.person_id AS person_id,
    e.event_id AS event_id,
    e.occurred_at AS occurred_at,
    e.event_type AS event_type,
    e.touchpoint AS touchpoint,
    e.channel AS channel,
    e.stage AS stage,
    e.csat AS csat,
    e.nps AS nps,
    multiIf(e.event_id = c.conversion_id OR (e.session_id != '' AND e.session_id = c.session_id), 'during',
            e.t < c.t, 'before',
            'after') AS phase,
    (e.t - c.t) / 86400000 AS days_from_conversion
FROM
(
    SELECT conversion_id, person_id, session_id, toUnixTimestamp64Milli(occurred_at) AS t
    FROM parcours.v_conversions
    WHERE person_id != ''
) AS c
INNER JOIN
(
    SELECT event_id, person_id, session_id, occurred_at, toUnixTimestamp64Milli(occurred_at) AS t,
           event_type, touchpoint, channel, stage, csat, nps
    FROM parcours.v_events
    WHERE person_id != ''
) AS e ON e.person_id = c.person_id
WHERE abs(e.t - c.t) <= lookback_ms
   OR e.event_id = c.conversion_id
   OR (e.session_id != '' AND e.session_id = c.session_id);
