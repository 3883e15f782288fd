"""Copies schemas/*.toml into ClickHouse reference tables (0004), after every migration run,
so that views join the taxonomy and settings instead of hard-coding them."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

from pipeline import SCHEMAS
from pipeline.taxonomy import taxonomy


def sync(client: Client) -> None:
    tax = taxonomy()
    client.command("TRUNCATE TABLE parcours.conversion_types")
    client.insert("parcours.conversion_types", [[t] for t in sorted(tax.conversion_event_types)],
                  column_names=["event_type"])
    client.command("TRUNCATE TABLE parcours.after_sales_stages")
    client.insert("parcours.after_sales_stages", [[s] for s in sorted(tax.after_sales_stages)],
                  column_names=["stage"])
    client.command("TRUNCATE TABLE parcours.channel_taxonomy")
    client.insert("parcours.channel_taxonomy",
                  [[c.name, c.category, c.ownership, c.default_stage] for c in tax.channels.values()],
                  column_names=["channel", "category", "ownership", "default_stage"])
    settings = tomllib.loads((SCHEMAS / "attribution.toml").read_text())
    client.command("TRUNCATE TABLE parcours.attribution_settings")
    client.insert("parcours.attribution_settings",
                  [[float(settings["lookback_days"]), float(settings["half_life_days"]),
                    float(settings["first_share"]), float(settings["last_share"]), datetime.now(UTC)]],
                  column_names=["lookback_days", "half_life_days", "first_share", "last_share", "synced_at"])
