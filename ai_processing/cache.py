"""The AI result cache: a repeated task never pays twice.

Key: SHA-256 of (image SHA-256, operation, prompt and options, provider and
model). Value: the result as JSON; an edit's image bytes go under a second key
with the same lifetime (and are not cached above ``max_blob_bytes``, so one
huge file cannot fill Redis). Both are written in one MULTI, read in one
round trip, and a half-present pair counts as a miss. Plain redis-py.

A third key says the result's cost was charged to an image (committed with it). A result
paid for by a call whose image never committed (the worker was killed between the
provider's answer and the commit) is uncharged: the retry that reuses it from the cache
counts its cost, so an order's AI cost includes every call paid for.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import redis

DEFAULT_TTL = 7 * 24 * 3600


def cache_key(
    sha256: str, operation: str, prompt: str, provider: str, model: str, options: Any = None
) -> str:
    """A stable digest of everything that decides a result."""
    material = json.dumps(
        [sha256, operation, prompt or "", options, provider, model],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode()).hexdigest()


class ResultCache:
    def __init__(
        self,
        client: redis.Redis,
        *,
        ttl: int = DEFAULT_TTL,
        prefix: str = "rkh:ai:cache",
        max_blob_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self.client = client
        self.ttl = ttl
        self.prefix = prefix
        self.max_blob_bytes = max_blob_bytes

    def get(self, key: str) -> tuple[dict[str, Any], bytes | None] | None:
        """``(payload, blob)`` or None on a miss."""
        entry = self.get_entry(key)
        return None if entry is None else (entry[0], entry[1])

    def get_entry(self, key: str) -> tuple[dict[str, Any], bytes | None, bool] | None:
        """``(payload, blob, charged)`` or None on a miss; ``charged``: its cost is counted."""
        raw, blob, charged = self.client.mget(
            f"{self.prefix}:{key}", f"{self.prefix}:{key}:blob", f"{self.prefix}:{key}:charged"
        )
        if raw is None:
            return None
        entry = json.loads(raw)
        if entry.get("has_blob") and blob is None:
            return None
        return entry["payload"], blob, charged is not None

    def mark_charged(self, key: str) -> None:
        """The result's cost is counted in an image's (committed) AI cost."""
        self.client.set(f"{self.prefix}:{key}:charged", 1, ex=self.ttl)

    def set(self, key: str, payload: dict[str, Any], blob: bytes | None = None) -> bool:
        """Store a result; False (nothing stored) when its image is over the size bound."""
        if blob is not None and len(blob) > self.max_blob_bytes:
            return False
        entry = json.dumps({"payload": payload, "has_blob": blob is not None})
        with self.client.pipeline(transaction=True) as pipe:
            pipe.set(f"{self.prefix}:{key}", entry, ex=self.ttl)
            if blob is not None:
                pipe.set(f"{self.prefix}:{key}:blob", blob, ex=self.ttl)
            pipe.execute()
        return True
