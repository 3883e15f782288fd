-- Every identifier of a person, oldest first.
SELECT kind, value, first_seen, shared FROM parcours.v_identities WHERE person_id = {person:String} ORDER BY first_seen, kind, value
