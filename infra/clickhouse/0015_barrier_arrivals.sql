-- The copies of an end-of-input barrier that reached the sink, one row per facts partition and
-- sessions partition they came from. A barrier is complete on a facts partition once every
-- sessions partition's copy is here; the sink writes pipeline_barriers then. Kept in ClickHouse,
-- not in the sink's memory: a sink that restarts, or takes the partition over, resumes from the
-- committed offset, past the copies the previous one consumed (pipeline/barrier.py).
-- ORDER BY (barrier_id, partition, origin): the replacing key; copies read again collapse.
CREATE TABLE IF NOT EXISTS parcours.pipeline_barrier_arrivals
(
    barrier_id  String,
    partition   UInt16,
    origin      UInt16,
    arrived_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (barrier_id, partition, origin);
