"""The AI step's part of the dashboard's "Needs attention" panel (``orders.attention``).

An AI provider whose circuit is open (``ai_processing.status``, the same read
as ``GET /api/v1/ai/status``): since when, and what happens meanwhile (images
go to the next provider of the chain; with none left, to review). Redis only,
no query.
"""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from orders.attention import Contribution, Item, Link, Viewer, since
from utilities import access

from . import status
from .explain import provider_name

DOWN = ("open", "half_open")


def provide(viewer: Viewer) -> Contribution:
    part = Contribution()
    states = status.provider_states()
    unknown = [s for s in states if s["state"] == "unknown"]
    if unknown:
        part.items.append(
            Item(
                key="ai.unknown",
                level="warning",
                text="The AI services' state cannot be read just now (Redis did not answer).",
            )
        )
        return part
    down = {s["provider"]: s for s in states if s["state"] in DOWN}
    if not down:
        return part
    up = [s["provider"] for s in states if s["provider"] not in down]
    links = ()
    if access.can_view_analytics(viewer.user):
        links = (Link("AI provider status", reverse("api:ai-status")),)
    if not up:
        names = ", ".join(provider_name(name) for name in down)
        part.items.append(
            Item(
                key="ai.all_down",
                level="error",
                text=f"No AI service is answering ({names}): images wait for review until one "
                "answers again.",
                links=links,
            )
        )
        return part
    for name, state in down.items():
        started = dt.datetime.fromtimestamp(state.get("down_since") or 0, tz=dt.UTC)
        order = [s["provider"] for s in states]
        after = [p for p in order[order.index(name) + 1 :] if p not in down]
        instead = (
            f"images go to {provider_name(after[0])} instead"
            if after
            else f"images go to {provider_name(up[0])} instead"
        )
        text = (
            f"{provider_name(name)} is not answering ({since(started)}, "
            f"{state.get('failures', 0)} failures in a row): {instead}"
        )
        text += (
            "; it is tried again by itself. If it stays down, check its key and status page."
            if viewer.staff
            else "; it is tried again by itself."
        )
        part.items.append(Item(key=f"ai.down.{name}", level="warning", text=text, links=links))
    return part
