-- The highest person_merges version written so far, by any run.
SELECT max(version) FROM parcours.person_merges
