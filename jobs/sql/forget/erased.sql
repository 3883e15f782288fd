-- Persons an earlier request erased through this identifier (`parcours forget` run again once
-- its identities are gone): rows of theirs that were on their way then are found through the
-- person id the audit recorded.
SELECT DISTINCT person_id FROM parcours.erasure_audit
WHERE kind = {kind:String} AND value_hash = {value_hash:String} AND status = 'done' AND person_id != ''
ORDER BY person_id
