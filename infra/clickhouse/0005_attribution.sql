-- Conversions and attribution: which touches led to each conversion, and how much credit each
-- model gives them. Settings (lookback, half-life, position shares) come from
-- parcours.attribution_settings (schemas/attribution.toml), conversion types from
-- parcours.conversion_types, so nothing here hard-codes a taxonomy.

-- T(c), the touches of a conversion c: its person's non-conversion events in
-- [c.occurred_at - lookback_days, c.occurred_at], or c itself when there are none (so every
-- conversion gets credited somewhere). Events without a person are nobody's journey: their
-- conversions keep only themselves. `position` is i (1 = first touch), `touches` is n.
-- ORDER BY occurred_at, event_id in the window: touch order, the event id breaks ties so
-- first/last touch are deterministic.
CREATE OR REPLACE VIEW parcours.v_attribution_touches AS
WITH
    conversions AS (
        SELECT conversion_id, person_id, occurred_at AS conversion_at, revenue
        FROM parcours.v_conversions
    ),
    prior AS (
        SELECT
            c.conversion_id AS conversion_id,
            c.person_id AS person_id,
            c.conversion_at AS conversion_at,
            c.revenue AS revenue,
            e.event_id AS event_id,
            e.occurred_at AS occurred_at,
            e.touchpoint AS touchpoint,
            e.channel AS channel
        FROM conversions AS c
        INNER JOIN
        (
            SELECT person_id, event_id, occurred_at, touchpoint, channel
            FROM parcours.v_events
            WHERE person_id != ''
              AND event_type NOT IN (SELECT event_type FROM parcours.conversion_types)
        ) AS e ON e.person_id = c.person_id
        WHERE e.occurred_at <= c.conversion_at
          AND toUnixTimestamp64Milli(c.conversion_at) - toUnixTimestamp64Milli(e.occurred_at)
              <= (SELECT argMax(lookback_days, synced_at) FROM parcours.attribution_settings) * 86400000
    ),
    candidates AS (
        SELECT conversion_id, person_id, conversion_at, revenue, event_id, occurred_at, touchpoint, channel
        FROM prior
        UNION ALL
        SELECT v.conversion_id AS conversion_id, v.person_id AS person_id, v.occurred_at AS conversion_at,
               v.revenue AS revenue, v.conversion_id AS event_id, v.occurred_at AS occurred_at,
               v.touchpoint AS touchpoint, v.channel AS channel
        FROM parcours.v_conversions AS v
        WHERE v.conversion_id NOT IN (SELECT conversion_id FROM prior)
    )
SELECT
    conversion_id,
    person_id,
    conversion_at,
    revenue,
    event_id,
    occurred_at,
    touchpoint,
    channel,
    row_number() OVER (PARTITION BY conversion_id ORDER BY occurred_at ASC, event_id ASC) AS position,
    count() OVER (PARTITION BY conversion_id) AS touches
FROM candidates;

-- The five rule-based models, one row per (touch, model). Each model's credits sum to 1 per
-- conversion: first_touch and last_touch by construction, linear 1/n, time_decay normalised
-- by its window sum, position_based because first_share + last_share + middle = 1 (n >= 3).
-- time_decay: weight 2^(-age / half_life), age = conversion time - touch time, in days.
-- Zero credits (first_touch on a middle touch, ...) are left out: they change no sum.
CREATE OR REPLACE VIEW parcours.v_attribution_rules AS
SELECT
    conversion_id,
    person_id,
    event_id,
    touchpoint,
    channel,
    revenue,
    model_credit.1 AS model,
    model_credit.2 AS credit
FROM
(
    SELECT
        t.conversion_id AS conversion_id,
        t.person_id AS person_id,
        t.event_id AS event_id,
        t.touchpoint AS touchpoint,
        t.channel AS channel,
        t.revenue AS revenue,
        t.position AS position,
        t.touches AS touches,
        s.first_share AS first_share,
        s.last_share AS last_share,
        t.decay / sum(t.decay) OVER (PARTITION BY t.conversion_id) AS decay_share
    FROM
    (
        SELECT
            *,
            pow(2.0, -((toUnixTimestamp64Milli(conversion_at) - toUnixTimestamp64Milli(occurred_at)) / 86400000)
                     / (SELECT argMax(half_life_days, synced_at) FROM parcours.attribution_settings)) AS decay
        FROM parcours.v_attribution_touches
    ) AS t
    CROSS JOIN
    (
        SELECT argMax(first_share, synced_at) AS first_share, argMax(last_share, synced_at) AS last_share
        FROM parcours.attribution_settings
    ) AS s
)
ARRAY JOIN [
    ('first_touch', toFloat64(position = 1)),
    ('last_touch', toFloat64(position = touches)),
    ('linear', 1.0 / touches),
    ('time_decay', decay_share),
    ('position_based', multiIf(touches = 1, 1.0,
                               touches = 2, 0.5,
                               position = 1, first_share,
                               position = touches, last_share,
                               (1.0 - first_share - last_share) / (touches - 2)))
] AS model_credit
WHERE credit != 0;

-- Markov-model credits, written by jobs/attribution.py (`parcours attribute`): a data-driven
-- model needs every journey at once, so it is a batch job, not a view. The job recomputes
-- everything (truncate, then insert); computed_at versions the rows so a re-run or a retried
-- insert replaces rather than duplicates.
-- ORDER BY (conversion_id, touchpoint, channel): the replacing key, one credit per touch group
-- of a conversion, and v_attribution reads it per conversion.
CREATE TABLE IF NOT EXISTS parcours.attribution_markov
(
    conversion_id   String,
    person_id       String,
    touchpoint      LowCardinality(String),
    channel         LowCardinality(String),
    credit          Float64,
    revenue_credit  Float64,
    computed_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
ORDER BY (conversion_id, touchpoint, channel);

-- The contract view for BI tools: every model's credit per conversion and (touchpoint,
-- channel), credits summing to 1 per conversion and model, revenue_credit = credit * revenue.
-- Markov rows exist once `parcours attribute` has run.
CREATE OR REPLACE VIEW parcours.v_attribution AS
SELECT
    conversion_id,
    person_id,
    model,
    touchpoint,
    channel,
    sum(touch_credit) AS credit,
    sum(touch_revenue_credit) AS revenue_credit
FROM
(
    SELECT conversion_id, person_id, model, touchpoint, channel,
           credit AS touch_credit, credit * revenue AS touch_revenue_credit
    FROM parcours.v_attribution_rules
    UNION ALL
    SELECT conversion_id, person_id, 'markov' AS model, touchpoint, channel,
           credit AS touch_credit, revenue_credit AS touch_revenue_credit
    FROM parcours.attribution_markov FINAL
)
GROUP BY conversion_id, person_id, model, touchpoint, channel;
