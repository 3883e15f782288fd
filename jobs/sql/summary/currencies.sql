-- Revenue of conversion events per currency, largest first ('' = no currency given).
-- Revenue is summed without conversion: the report names the currency only when there is one.
-- Parameter {types}: conversion event types (schemas/taxonomy.toml).
SELECT currency, sum(revenue) AS total
FROM parcours.v_events
WHERE has({types:Array(String)}, event_type) AND revenue != 0
GROUP BY currency
ORDER BY total DESC, currency
