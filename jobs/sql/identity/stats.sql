-- Persons, identifiers, merges, refusals and shared identifiers.
SELECT persons, identifiers, merges, refusals, shared_identifiers FROM parcours.v_identity_stats
