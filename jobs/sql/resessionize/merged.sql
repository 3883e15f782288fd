-- Persons whose history was merged into them.
SELECT DISTINCT to_person FROM parcours.person_merges FINAL WHERE from_person != to_person
