-- The current person of one identifier.
SELECT person_id, shared FROM parcours.v_identities WHERE kind = {kind:String} AND value = {value:String} LIMIT 1
