"""Journey facts: the rows each stage hands to the ClickHouse sink."""
