-- The events of the days asked for, each once (its current version, parcours.events_current,
-- 0023: a version superseded by one on another day leaves its day) and in its current session: the
-- re-sessionization's override, else its streaming session followed through session_merges
-- (parcours.event_session, 0002, restricted to those days). The rollup's own query runs over
-- this in place of parcours.events. The joined columns have names of their own: a name shared
-- with the events would come out qualified (`e.event_id`).
SELECT e.* REPLACE (multiIf(es.recut != '', es.recut, sm.merged_into != '', sm.merged_into, e.session_id)
                    AS session_id)
FROM (SELECT * FROM parcours.events_current WHERE toDate(occurred_at) IN {days:Array(Date)}) AS e
LEFT JOIN
(
    SELECT event_id AS recut_event, argMax(session_id, version) AS recut
    FROM parcours.event_sessions
    WHERE event_id IN (SELECT event_id FROM parcours.events WHERE toDate(occurred_at) IN {days:Array(Date)})
    GROUP BY event_id
) AS es ON es.recut_event = e.event_id
LEFT JOIN (SELECT from_session, session_id AS merged_into FROM parcours.session_map) AS sm
    ON sm.from_session = e.session_id
