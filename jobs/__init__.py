"""Batch jobs: simulators and offline tools around the Parcours pipeline."""
