-- The anchor -> person mapping the views follow, and the highest version on record.
SELECT from_person, person_id, (SELECT max(version) FROM parcours.person_merges) AS latest
FROM parcours.person_map
