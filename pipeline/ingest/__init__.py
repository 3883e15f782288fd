"""Ingest: raw bytes -> validated, normalised, PII-hashed events, or dead letters."""
