"""Sink: journey facts -> ClickHouse (batched, idempotent), and the schema migrations."""
