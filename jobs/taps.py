"""Events on shared identifiers, given to the login around them (polars).

strategy: an event whose identifiers are all shared (a tap on the family tablet, an open of the
household email) names no person by itself. The streaming stages give it the person the shared
identifier pointed to when the event was processed, which depends on arrival order: in a replay
a tap at 08:05 could land with a login made at 14:00 by someone else. Here the rule is one of
event time only, so the answer is the same whatever the order. On each shared identifier's
timeline (its taps, and its logins: events that carried it with an identifier of their own),
runs are cut by the session gap, as sessions are. A tap goes to the person of the latest login
at or before it in its run, else of the first login after it in its run, else it stays the
shared identifier's own. Events at the same instant are ordered by event id. A tap on several
shared identifiers (the kiosk and the store's switchboard) takes the latest login before it on
any of their timelines, else the first after: a rule of event times and ids, not of the
identifiers' salted names, so every install cuts the same persons.
"""

from __future__ import annotations

import polars as pl

from pipeline.identity.rules import own_person


def attribute_taps(events: pl.DataFrame, sightings: pl.DataFrame, gap_ms: int) -> pl.DataFrame:
    """`events` (event_id, person_id, occurred_at ms, on_shared, ...) with the person of each
    event that carries only shared identifiers (`on_shared`) replaced by the rule above.
    `sightings` (via, event_id): one row per event and shared identifier (`via`) it carried;
    those of events not `on_shared` are logins."""
    if not events["on_shared"].any():
        return events
    seen = sightings.join(events.select("event_id", "occurred_at", "person_id", "on_shared"), on="event_id")
    login = pl.col("on_shared").not_()
    timeline = (seen.sort("via", "occurred_at", "event_id")
                .with_columns(pl.when(login).then(pl.col("person_id")).alias("login"),
                              pl.when(login).then(pl.col("occurred_at")).alias("login_at"),
                              pl.when(login).then(pl.col("event_id")).alias("login_id")))
    run = (pl.col("occurred_at").diff().over("via").fill_null(gap_ms) >= gap_ms).cum_sum().over("via")
    timeline = timeline.with_columns(run.alias("run"))
    around = [c for name in ("login", "login_at", "login_id")
              for c in (pl.col(name).forward_fill().over("via", "run").alias(f"before_{name}"),
                        pl.col(name).backward_fill().over("via", "run").alias(f"after_{name}"))]
    taps = timeline.with_columns(around).filter(pl.col("on_shared"))
    before = (taps.filter(pl.col("before_login").is_not_null())
              .sort("before_login_at", "before_login_id", descending=True)
              .unique("event_id", keep="first").select("event_id", pl.col("before_login").alias("tap_person")))
    after = (taps.filter(pl.col("before_login").is_null() & pl.col("after_login").is_not_null())
             .join(before, on="event_id", how="anti")
             .sort("after_login_at", "after_login_id")
             .unique("event_id", keep="first").select("event_id", pl.col("after_login").alias("tap_person")))
    placed = pl.concat([before, after])
    own = pl.col("event_id").map_elements(own_person, return_dtype=pl.String)
    return (events.join(placed, on="event_id", how="left")
            .with_columns(pl.when(pl.col("on_shared")).then(pl.coalesce(pl.col("tap_person"), own))
                          .otherwise(pl.col("person_id")).alias("person_id"))
            .drop("tap_person"))
