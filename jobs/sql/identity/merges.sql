-- Person ids (anchors) that now point at the person.
SELECT from_person, reason, merged_at FROM parcours.person_merges FINAL WHERE to_person = {person:String} AND from_person != {person:String} ORDER BY merged_at LIMIT 200
