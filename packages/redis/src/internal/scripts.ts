/**
 * Lua scripts of the Redis limiter. Every script reads the clock with Redis `TIME`, so all
 * processes share one clock whatever their own clocks say.
 *
 * Keys (one hash tag, so they live in one cluster slot):
 * - KEYS[1] `inflight`: sorted set, member = request id, score = lease end (ms): acquisition (or
 *   last renewal) + requestTimeout + W. A crashed holder stops counting at its lease end.
 * - KEYS[2] `done`: sorted set, member = request id, score = completion + W (ms).
 * - KEYS[3] `pause`: string, the end of the current pause (ms), expiring at that time.
 * An entry counts while its score is greater than now. Every key carries a TTL at least as long
 * as its largest score, so nothing is left behind.
 */
import { createHash } from "node:crypto"

/** A Lua script and its SHA1 (for EVALSHA). */
export interface Script {
  readonly name: string
  readonly lua: string
  readonly sha: string
}

const script = (name: string, lua: string): Script => ({
  name,
  lua,
  sha: createHash("sha1").update(lua).digest("hex")
})

const prelude = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function keepFor(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
`

/**
 * ARGV: id, limit, window ms, lease ms. Returns 0 when the slot was taken, otherwise the wait in
 * ms before a slot can be free (never later than the earliest moment one can free up).
 */
export const acquire = script(
  "acquire",
  `${prelude}
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
-- Already granted (a retry after a reply was lost): keep the slot, take no other.
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local pause = tonumber(redis.call('GET', KEYS[3]) or '0')
if pause > now then return pause - now end
if redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) < limit then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
  keepFor(KEYS[1], lease)
  return 0
end
local nextFree = now + window
local d = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if d[2] then nextFree = math.min(nextFree, tonumber(d[2])) end
local f = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if f[2] then nextFree = math.min(nextFree, tonumber(f[2])) end
return math.max(1, nextFree - now)
`
)

/** ARGV: id, window ms. Moves the request from in flight to done, counting until now + W. */
export const release = script(
  "release",
  `${prelude}
local window = tonumber(ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], now + window, ARGV[1])
keepFor(KEYS[2], window)
return 0
`
)

/** ARGV: id, lease ms. Extends the lease of a request still in flight. */
export const renew = script(
  "renew",
  `${prelude}
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
keepFor(KEYS[1], lease)
return 0
`
)

/** ARGV: duration ms. Extends (never shortens) the pause; returns the ms left of the pause. */
export const pause = script(
  "pause",
  `${prelude}
local ms = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[3]) or '0')
if now + ms > current then
  redis.call('SET', KEYS[3], tostring(now + ms), 'PX', ms)
  return ms
end
return current - now
`
)

/** No ARGV. Returns the number of requests that count now (in flight or done within W). */
export const count = script(
  "count",
  `${prelude}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
return redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])
`
)
