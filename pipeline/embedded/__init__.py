"""The embedded stack: a Kafka-protocol broker subprocess and the in-process ClickHouse engine."""
