-- Whether any event matches a step (/*STEP*/: its condition): a step nobody ever did is more
-- likely a misspelt name than a drop-off.
SELECT count() > 0 FROM (SELECT 1 FROM parcours.v_events WHERE /*STEP*/ LIMIT 1)
