-- When an identifier was erased by `parcours forget` (erasure_audit keeps only its audit hash).
SELECT max(completed_at), argMax(request_id, completed_at)
FROM parcours.erasure_audit
WHERE kind = {kind:String} AND value_hash = {hash:String} AND status = 'done'
HAVING count() > 0
