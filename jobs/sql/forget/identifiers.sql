-- Every identifier of a person (email/phone hashed), as the views resolve it today. Shared
-- identifiers name nobody: they stay, with the other customers' events.
SELECT kind, value FROM parcours.v_identities WHERE person_id = {person:String} AND shared = 0 ORDER BY kind, value
