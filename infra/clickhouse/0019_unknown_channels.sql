-- Channels the taxonomy does not list are accepted as they come, with category, ownership and
-- stage "unknown" (schemas/taxonomy.toml). The reference view lists them too, so a BI join of
-- v_events on v_channel_taxonomy gives them "unknown" rather than an empty category.
CREATE OR REPLACE VIEW parcours.v_channel_taxonomy AS
SELECT
    channel,
    toString(category) AS category,
    toString(ownership) AS ownership,
    toString(default_stage) AS default_stage
FROM parcours.channel_taxonomy FINAL
UNION ALL
SELECT DISTINCT
    toString(channel) AS channel,
    'unknown' AS category,
    'unknown' AS ownership,
    'unknown' AS default_stage
FROM parcours.events
WHERE channel NOT IN (SELECT channel FROM parcours.channel_taxonomy);
