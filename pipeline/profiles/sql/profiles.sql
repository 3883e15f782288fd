-- One row per person: the profile the sessions stage would hold after every recorded event
-- (pipeline/profiles/state.py, Profile.add; the caps are its MAX_* constants), for a worker
-- whose state died with a memory-only broker. Persons as the views name them (v_events).
WITH person_events AS (
    SELECT v.person_id AS person_id, v.event_id AS event_id, toUnixTimestamp64Milli(v.occurred_at) AS at,
           v.event_type AS event_type, v.touchpoint AS touchpoint, v.channel AS channel, v.stage AS stage,
           v.revenue AS revenue, v.currency AS currency, e.identifiers AS identifiers
    FROM parcours.v_events AS v
    INNER JOIN (SELECT event_id, identifiers FROM parcours.events_current) AS e
        ON e.event_id = v.event_id
),
identifier_lists AS (
    SELECT person_id, groupArray((kind, values)) AS identifiers
    FROM (
        SELECT person_id, kind,
               arraySlice(arrayDistinct(arrayMap(x -> x.2, arraySort(groupArray((at, value))))), 1, {max_values:UInt32}) AS values
        FROM person_events
        ARRAY JOIN mapKeys(identifiers) AS kind, mapValues(identifiers) AS value
        -- a kiosk or the family tablet is not the person's own (Profile.document leaves it out)
        WHERE concat(kind, ':', value) NOT IN (SELECT concat(kind, ':', value) FROM parcours.identity_shared)
        GROUP BY person_id, kind
    )
    GROUP BY person_id
)
SELECT p.person_id AS person_id, i.identifiers AS identifiers, p.stage AS stage, p.stage_at AS stage_at,
       p.last_touchpoints AS last_touchpoints, p.lifetime_revenue AS lifetime_revenue,
       p.conversions AS conversions, p.conversion_ids AS conversion_ids, p.events AS events,
       p.first_seen AS first_seen, p.last_seen AS last_seen,
       multiIf(length(p.currencies) = 0, '', length(p.currencies) = 1, p.currencies[1], 'mixed') AS currency
FROM (
    SELECT person_id,
           argMax(stage, (at, event_id)) AS stage,
           max(at) AS stage_at,
           arraySlice(arraySort(groupArray((at, touchpoint, channel))), -{max_touchpoints:UInt32}) AS last_touchpoints,
           sumIf(revenue, event_type IN {conversions:Array(String)}) AS lifetime_revenue,
           countIf(event_type IN {conversions:Array(String)}) AS conversions,
           arraySlice(arraySort(groupArrayIf((at, event_id, revenue), event_type IN {conversions:Array(String)})),
                      -{max_conversion_ids:UInt32}) AS conversion_ids,
           count() AS events,
           min(at) AS first_seen,
           max(at) AS last_seen,
           -- Profile.currency: of the conversions with revenue, 'mixed' when several
           groupUniqArrayIf(currency, event_type IN {conversions:Array(String)} AND revenue != 0 AND currency != '')
               AS currencies
    FROM person_events
    GROUP BY person_id
) AS p
LEFT JOIN identifier_lists AS i ON i.person_id = p.person_id
ORDER BY person_id
