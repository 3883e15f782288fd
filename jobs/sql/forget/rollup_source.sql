-- The definition of the KPI rollup's materialized view (0007), as the server has it: the
-- erasure re-runs it over the remaining events of the affected days.
SELECT as_select FROM system.tables WHERE database = 'parcours' AND name = 'kpi_daily_mv'
