-- The current session of an event follows session_merges from its re-sessionization override
-- too, not only from its streaming session. `parcours up` after a replay restores the sessions
-- the replay's clean-up re-cut (r|... ids, pipeline/profiles/history.py), and a live event that
-- bridges one of them with another merges it away: its older events kept pointing at the
-- re-cut id, which v_sessions no longer shows (0010). Otherwise as 0023's.
CREATE OR REPLACE VIEW parcours.event_session AS
SELECT
    c.event_id AS event_id,
    c.occurred_at AS occurred_at,
    c.channel AS channel,
    if(sm.session_id != '', sm.session_id, c.session_id) AS session_id
FROM
(
    SELECT
        e.event_id AS event_id,
        e.occurred_at AS occurred_at,
        e.channel AS channel,
        if(es.session_id != '', es.session_id, e.session_id) AS session_id
    FROM parcours.events_current AS e
    LEFT JOIN (SELECT event_id, argMax(session_id, version) AS session_id FROM parcours.event_sessions GROUP BY event_id) AS es
        ON es.event_id = e.event_id
) AS c
LEFT JOIN parcours.session_map AS sm ON sm.from_session = c.session_id
SETTINGS join_use_nulls = 0;
