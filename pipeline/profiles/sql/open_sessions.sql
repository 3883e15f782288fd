-- The sessions the sessions stage would still hold at the newest recorded event: those that
-- ended at most gap + allowed lateness before it ({horizon_ms}), as v_sessions names them, with
-- their recent events (a session keeps its event ids, and the revenue each added, to count an
-- event delivered again once; an event older than the horizon is past the allowed lateness) and
-- its count of events from its row (a long session holds more than its recent ones). For a worker whose state died with a memory-only broker (pipeline/profiles/history.py):
-- without them, a customer active across a restart of `parcours up` got a second session.
-- Parameter {conversions}: conversion event types (schemas/taxonomy.toml).
-- The newest event, never taken past the wall clock: one device whose clock ran hours ahead
-- would make every other session look closed.
WITH (SELECT least(toUnixTimestamp64Milli(max(occurred_at)), toUnixTimestamp64Milli(now64(3)))
      FROM parcours.v_events) AS newest
SELECT
    s.session_id AS session_id,
    s.person_id AS person_id,
    toUnixTimestamp64Milli(s.started_at) AS started,
    toUnixTimestamp64Milli(s.ended_at) AS ended,
    s.channels AS channels,
    s.entry_touchpoint AS entry_touchpoint,
    s.exit_touchpoint AS exit_touchpoint,
    s.revenue AS revenue,
    s.converted AS converted,
    s.event_count AS event_count,
    e.ids AS event_ids,
    e.added AS added,
    e.entry_event AS entry_event,
    e.exit_event AS exit_event,
    m.absorbed AS absorbed
FROM parcours.v_sessions AS s
INNER JOIN
(
    SELECT session_id,
           groupArray(event_id) AS ids,
           groupArray(if(has({conversions:Array(String)}, event_type), revenue, 0.)) AS added,
           argMin(event_id, (occurred_at, event_id)) AS entry_event,
           argMax(event_id, (occurred_at, event_id)) AS exit_event
    FROM parcours.v_events
    WHERE session_id != '' AND toUnixTimestamp64Milli(occurred_at) >= newest - {horizon_ms:Int64}
    GROUP BY session_id
) AS e ON e.session_id = s.session_id
-- The sessions merged into it: a later merge of this one remaps them too (else their events
-- pointed at this one, which v_sessions no longer shows).
LEFT JOIN
(
    SELECT session_id, groupArray(from_session) AS absorbed FROM parcours.session_map GROUP BY session_id
) AS m ON m.session_id = s.session_id
WHERE toUnixTimestamp64Milli(s.ended_at) >= newest - {horizon_ms:Int64} AND s.person_id != ''
