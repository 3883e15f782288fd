-- Columns of the KPI rollup, in table order.
SELECT name FROM system.columns WHERE database = 'parcours' AND table = 'kpi_daily_state' ORDER BY position
