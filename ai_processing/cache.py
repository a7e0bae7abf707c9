"""The AI result cache: a repeated task never pays twice.

Key: SHA-256 of (image SHA-256, operation, prompt and options, provider and
model). Value: the result as JSON; an edit's image bytes go under a second key
with the same lifetime (and are not cached above ``max_blob_bytes``, so one
huge file cannot fill Redis). Both are written in one MULTI, read in one
round trip, and a half-present pair counts as a miss. Plain redis-py.
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
        raw, blob = self.client.mget(f"{self.prefix}:{key}", f"{self.prefix}:{key}:blob")
        if raw is None:
            return None
        entry = json.loads(raw)
        if entry.get("has_blob") and blob is None:
            return None
        return entry["payload"], blob

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
