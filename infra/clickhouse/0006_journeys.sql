-- Journey analytics for BI: phases, transitions (Sankey), drop-offs, channel switches (media
-- breaks), satisfaction per touchpoint, moments of truth and the touchpoint Pareto.
-- Everything reads the re-attributed views (v_events, v_sessions, v_conversions) and the
-- reference tables, never the raw facts: persons and sessions are the current canonical ones.
-- Journeys need a person: events without one (person_id = '') are left out of sequences.
-- The lookback comes from parcours.attribution_settings (schemas/attribution.toml) and
-- conversions are v_conversions (types from parcours.conversion_types): nothing here
-- hard-codes a taxonomy or a setting.
-- Times are compared in epoch milliseconds (toUnixTimestamp64Milli) to keep DateTime64(3)
-- precision in the arithmetic.

-- Phase of every event relative to its person's purchases (DOMAIN: before / during / after):
-- 'during' when its session contains a conversion, else 'before' when the person converts
-- later (strictly later, at most lookback_days after the event), else 'after' when the person
-- converted earlier (or at the same instant in another session), else 'before': no purchase
-- yet, a pre-purchase touch. A purchase ahead wins over one behind: between two purchases
-- less than lookback_days apart, events are the run-up to the repeat purchase ("before").
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

-- Helper: each person's events in journey order (occurred_at, then event_id so that equal
-- times are ordered deterministically), with the next event and the touchpoint of the one
-- after it. Transitions, drop-offs and channel switches all read consecutive pairs from here,
-- so the three agree on what "the next event" is. next_event_id = '' marks the last event.
CREATE OR REPLACE VIEW parcours.v_event_sequence AS
SELECT
    person_id,
    event_id,
    occurred_at,
    session_id,
    event_type,
    touchpoint,
    channel,
    stage,
    leadInFrame(event_id) OVER w AS next_event_id,
    leadInFrame(occurred_at) OVER w AS next_occurred_at,
    leadInFrame(session_id) OVER w AS next_session_id,
    leadInFrame(touchpoint) OVER w AS next_touchpoint,
    leadInFrame(channel) OVER w AS next_channel,
    leadInFrame(touchpoint, 2) OVER w AS after_next_touchpoint
FROM parcours.v_events
WHERE person_id != ''
WINDOW w AS (PARTITION BY person_id ORDER BY occurred_at ASC, event_id ASC
             ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING);

-- Transitions between consecutive events of a person, for Sankey charts. same_session = 1
-- when both events are in the same (non-empty) session: a flow inside a visit, as opposed to
-- a return days later. persons = distinct persons who made that move at least once.
CREATE OR REPLACE VIEW parcours.v_transitions AS
SELECT
    touchpoint AS from_touchpoint,
    channel AS from_channel,
    next_touchpoint AS to_touchpoint,
    next_channel AS to_channel,
    toUInt8(session_id != '' AND session_id = next_session_id) AS same_session,
    count() AS transitions,
    uniqExact(person_id) AS persons
FROM parcours.v_event_sequence
WHERE next_event_id != ''
GROUP BY from_touchpoint, from_channel, to_touchpoint, to_channel, same_session
ORDER BY transitions DESC, from_touchpoint, from_channel, to_touchpoint, to_channel, same_session;

-- Ruptures: where unconverted journeys end. A journey ends at a person's last event. It ended
-- unconverted unless that last event is itself a conversion (nothing comes after the last
-- event, so "no conversion after it" reduces to that). This covers persons who never bought and
-- the trailing events after a person's last purchase (a support call, a bad survey).
-- share = this touchpoint's part of all unconverted journey ends.
CREATE OR REPLACE VIEW parcours.v_dropoffs AS
SELECT
    touchpoint,
    channel,
    stage,
    count() AS journeys_ended,
    journeys_ended / sum(journeys_ended) OVER () AS share
FROM parcours.v_event_sequence
WHERE next_event_id = ''
  AND event_id NOT IN (SELECT conversion_id FROM parcours.v_conversions)
GROUP BY touchpoint, channel, stage
ORDER BY journeys_ended DESC, touchpoint, channel, stage;

-- Media breaks: consecutive events of a person on different channels less than 24 h apart
-- (a customer who leaves the site for the hotline to get something done). What happens after:
-- converted_within_7d counts the switches followed by a conversion of the person in
-- [switch, switch + 7 days], the switch being the arrival event on the new channel (a purchase
-- right there counts). next_touchpoint_top is the most frequent touchpoint of the event that
-- follows the arrival event ('' when every such journey ended there. Ties: alphabetical).
CREATE OR REPLACE VIEW parcours.v_channel_switches AS
SELECT
    from_channel,
    to_channel,
    sum(n) AS switches,
    uniqExactMerge(person_state) AS persons,
    sum(converted) AS converted_within_7d,
    converted_within_7d / switches AS conversion_rate,
    arraySort(x -> (-x.1, x.2), groupArrayIf((n, next_tp), next_tp != ''))[1].2 AS next_touchpoint_top
FROM
(
    -- One row per (switch kind, next touchpoint): the outer level picks the most frequent.
    SELECT
        s.channel AS from_channel,
        s.next_channel AS to_channel,
        s.after_next_touchpoint AS next_tp,
        count() AS n,
        uniqExactState(s.person_id) AS person_state,
        countIf(arrayExists(t -> t >= toUnixTimestamp64Milli(s.next_occurred_at)
                                 AND t - toUnixTimestamp64Milli(s.next_occurred_at) <= 7 * 86400000,
                            c.times)) AS converted
    FROM parcours.v_event_sequence AS s
    LEFT JOIN
    (
        SELECT person_id, groupArray(toUnixTimestamp64Milli(occurred_at)) AS times
        FROM parcours.v_conversions
        WHERE person_id != ''
        GROUP BY person_id
    ) AS c ON c.person_id = s.person_id
    WHERE s.next_event_id != ''
      AND s.channel != s.next_channel
      AND toUnixTimestamp64Milli(s.next_occurred_at) - toUnixTimestamp64Milli(s.occurred_at) < 86400000
    GROUP BY from_channel, to_channel, next_tp
)
GROUP BY from_channel, to_channel
ORDER BY switches DESC, from_channel, to_channel
SETTINGS join_use_nulls = 0;

-- Helper: one row per survey answer (csat and/or nps set). The rated touchpoint is
-- properties.rated_touchpoint when present (a survey about the hotline call), else the event's
-- own touchpoint. channel, stage and phase are those of the rated interaction: the person's
-- latest event at the rated touchpoint at or before the answer (ASOF join). When the person has
-- none (a touchpoint we do not track): those of the answer itself. A survey sent by email about
-- a call thus counts for call_center / service, not for the email channel.
CREATE OR REPLACE VIEW parcours.v_ratings AS
SELECT
    r.event_id AS event_id,
    r.person_id AS person_id,
    r.occurred_at AS occurred_at,
    r.rated_touchpoint AS touchpoint,
    if(x.event_id != '', x.event_id, r.event_id) AS rated_event_id,
    p.channel AS channel,
    p.stage AS stage,
    p.phase AS phase,
    r.csat AS csat,
    r.nps AS nps
FROM
(
    SELECT
        event_id,
        person_id,
        occurred_at,
        if(JSONExtractString(properties, 'rated_touchpoint') != '',
           JSONExtractString(properties, 'rated_touchpoint'), toString(touchpoint)) AS rated_touchpoint,
        csat,
        nps
    FROM parcours.v_events
    WHERE csat IS NOT NULL OR nps IS NOT NULL
) AS r
ASOF LEFT JOIN
(
    SELECT person_id, toString(touchpoint) AS touchpoint, occurred_at, event_id
    FROM parcours.v_events
    WHERE person_id != ''
) AS x ON x.person_id = r.person_id AND x.touchpoint = r.rated_touchpoint AND x.occurred_at <= r.occurred_at
INNER JOIN parcours.v_event_phases AS p ON p.event_id = if(x.event_id != '', x.event_id, r.event_id)
SETTINGS join_use_nulls = 0;

-- Satisfaction per day (of the answer), rated touchpoint, channel, stage and phase.
-- CSAT = mean of the 1-5 scores, NPS = 100 * (promoters 9-10 - detractors 0-6) / answers.
-- Both are NULL when the group has no answer of that kind (a CSAT-only survey has no NPS).
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
    if(responses_nps = 0, NULL, 100 * (promoters - detractors) / responses_nps) AS nps
-- Renamed scores: the output column `nps` must not shadow the input column it aggregates.
FROM (SELECT occurred_at, touchpoint, channel, stage, phase, csat AS csat_score, nps AS nps_score
      FROM parcours.v_ratings)
GROUP BY day, touchpoint, channel, stage, phase
ORDER BY day, touchpoint, channel, stage, phase;

-- Moments of truth: touchpoints whose experience decides whether the customer buys again.
-- The unit is an answer (one person rating one touchpoint once). Satisfied = csat >= 4 or nps >= 9,
-- dissatisfied = csat <= 2 or nps <= 6 (an answer can be both, e.g. csat 5 with nps 3, and then
-- counts on both sides. Neutral answers count in `responses` only). It "buys again" when its
-- person has a conversion strictly after the answer. separation = satisfied rate - dissatisfied
-- rate: large where experience matters, NULL when one side has no answer.
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
    LEFT JOIN
    (
        SELECT person_id, groupArray(toUnixTimestamp64Milli(occurred_at)) AS times
        FROM parcours.v_conversions
        WHERE person_id != ''
        GROUP BY person_id
    ) AS c ON c.person_id = r.person_id
)
GROUP BY touchpoint
ORDER BY separation DESC, responses DESC, touchpoint
SETTINGS join_use_nulls = 0;

-- The ~20/80 rule (DOMAIN: moments of truth): revenue influenced by each touchpoint. The
-- touches of a conversion are those of v_attribution_touches (0005): its person's
-- non-conversion events in [conversion - lookback_days, conversion], or the conversion itself
-- when there are none. A conversion counts once per touchpoint however often the touchpoint
-- appears. A conversion influences several touchpoints, so influenced revenues add up to more
-- than the revenue: share and cumulative_share are relative to their sum (the Pareto curve
-- reaches 1). rank 1 = most influential (ties: alphabetical).
CREATE OR REPLACE VIEW parcours.v_touchpoint_pareto AS
WITH
    touched AS (
        -- DISTINCT: one (conversion, touchpoint) pair however many touches it has there.
        SELECT DISTINCT conversion_id, toString(touchpoint) AS touchpoint, revenue
        FROM parcours.v_attribution_touches
    ),
    influenced AS (
        SELECT touchpoint, sum(revenue) AS influenced_revenue
        FROM touched
        GROUP BY touchpoint
    )
SELECT
    touchpoint,
    influenced_revenue,
    if(total = 0, 0, influenced_revenue / total) AS share,
    if(total = 0, 0, running / total) AS cumulative_share,
    rank
FROM
(
    SELECT
        touchpoint,
        influenced_revenue,
        sum(influenced_revenue) OVER () AS total,
        sum(influenced_revenue) OVER (ORDER BY influenced_revenue DESC, touchpoint ASC
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running,
        row_number() OVER (ORDER BY influenced_revenue DESC, touchpoint ASC) AS rank
    FROM influenced
)
ORDER BY rank;
