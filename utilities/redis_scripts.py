"""Every Lua script the project runs in Redis, in one place.

A script runs atomically in Redis: where workers race (two holders of a lease, two drains of
an order, failures counted by many workers) one script does the read and the write in one
step that nobody can interleave. Each constant documents its ``KEYS`` and ``ARGV``; the
modules that use them say why the step must be atomic. Callers run them with
``client.eval(SCRIPT, len(keys), *keys, *args)`` or ``client.register_script(SCRIPT)``.
"""

from __future__ import annotations

# --- leases (utilities.leases) ---------------------------------------------------------------

# Every lease script takes KEYS[1] the lease key and, for a lease with a claim, KEYS[2] its
# claims set; ARGV[1] the holder's token, ARGV[2] the ttl in ms, ARGV[3] the claim's member.

#: Take the lease if nobody holds it, and leave its claim in the same step (no moment where a
#: sweep sees one without the other): 1 when taken.
LEASE_ACQUIRE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
if KEYS[2] then redis.call('SADD', KEYS[2], ARGV[3]) end
return 1
"""
#: Extend a lease this holder still owns (1); take back one that ran out while its
#: holder was stalled and that nobody took since, with its claim (2); 0 when another holds it.
LEASE_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if KEYS[2] then redis.call('SADD', KEYS[2], ARGV[3]) end
return 2
"""
#: Delete only a lease this holder still owns, and its claim; when the lease ran out meanwhile
#: with nobody taking it, the claim goes too (the work is done). 1 when ours was deleted.
LEASE_RELEASE = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
if KEYS[2] then redis.call('SREM', KEYS[2], ARGV[3]) end
if holder then return redis.call('DEL', KEYS[1]) end
return 0
"""
#: KEYS[1] lease key, KEYS[2] claims set; ARGV[1] member: the claim of a lease nobody holds any
#: more (its holder died) is taken off the set, once: 1 for the one caller that took it.
CLAIM_ORPHANED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.call('SREM', KEYS[2], ARGV[1]) end
return 0
"""

# --- circuit breakers (utilities.circuit_breaker) --------------------------------------------

#: KEYS[1] state hash; ARGV: threshold, now, keep seconds. Returns the failure count.
BREAKER_RECORD_FAILURE = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if failures >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'opened_at', ARGV[2])
  redis.call('HSETNX', KEYS[1], 'down_since', ARGV[2])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return failures
"""

# --- AI provider slots (ai_processing.limits) ------------------------------------------------

#: KEYS[1] slot set; ARGV: limit, lease seconds, token. 1 when the slot was taken.
SLOT_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 60)
  return 1
end
return 0
"""
#: KEYS[1] slot set; ARGV: lease seconds, token. Pushes the token's lease out, if it still has one.
SLOT_RENEW = """
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1])) + 60)
return 1
"""

# --- PMR drains (pmr.tasks) ------------------------------------------------------------------

#: KEYS[1] the order's next-drain key; ARGV: when (unix s), ttl ms. 1 = schedule it, 0 = one
#: as early is already coming.
DRAIN_CLAIM = """
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) <= tonumber(ARGV[1]) + 0.25 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
#: KEYS[1] the order's next-drain key; ARGV[1] now: a drain runs now, so a scheduled one that
#: is due is this one (or late): forget it, so this run may schedule the next.
DRAIN_ARRIVED = """
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) <= tonumber(ARGV[1]) + 0.25 then redis.call('DEL', KEYS[1]) end
return 0
"""

# --- failed sign-ins (notifications.signins) -------------------------------------------------

#: KEYS[1] count, KEYS[2] window start; ARGV: now, window seconds. Returns {count, start}.
SIGNIN_COUNT = """
redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2])
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return {count, redis.call('GET', KEYS[2])}
"""
