-- The definition of the KPI rollup's materialized view (0007, 0016), as the server has it: a
-- restatement runs the same query over the current events of the days it restates.
SELECT as_select FROM system.tables WHERE database = 'parcours' AND name = 'kpi_daily_mv'
