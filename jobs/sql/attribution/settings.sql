-- The lookback window (days) the Markov job shares with v_attribution_touches.
SELECT argMax(lookback_days, synced_at) AS lookback_days
FROM parcours.attribution_settings
