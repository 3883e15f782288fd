-- Which of these session ids session_merges has retired: the live stage merged a re-cut session
-- that `parcours up` restored into another (0026). Such an id cannot name a session again, or
-- v_sessions hides it (0010).
SELECT DISTINCT from_session FROM parcours.session_merges WHERE from_session IN {ids:Array(String)}
