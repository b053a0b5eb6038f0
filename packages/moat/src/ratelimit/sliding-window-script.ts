// The Redis side of the shared rate limiter: the same exact sliding log as the in-process
// MemoryRateLimitStore (engine/rate-limiter.ts), as one Lua script, so counting is one round trip per
// hash slot and atomic (Redis runs a script alone). Per (client, rule) a sorted set holds one member per
// counted request, scored by its time: at most `limit` members in any window, so memory grows with the
// limit (about 140 bytes a member at 10 000/h), and a hit costs a handful of O(log n) commands (13–24 µs
// inside Redis, as the weighted two-window counter before it: bench/rate-limit-script-hit.ts).
//
// Time: by default the script reads Redis's own clock (TIME), so every app instance agrees on where a
// window starts whatever their clock skew; ARGV[1] >= 0 uses the caller's clock instead (tests). Per key
// time never goes backwards (a request older than the newest member counts as at the newest's time).
// A member is named by the caller (ARGV[2], unique per call, and the hit's place), so the caller can take
// one count back (REMOVE_SCRIPT) when a call of another slot refused the request. A key expires one
// window after its newest member, when nothing in it can matter any more. A key of another type (the
// counters of earlier Moat versions) is replaced instead of failing every request.
//
// Keyed counters (KEYS after the first ARGV[3]) are capped per client IP: when no hit of this call
// refused, each index key (a sorted set in the IP's slot, one per keyed rule) records the keyed counter
// this request is about to use, by last use; names this IP last used a window ago leave it. An IP that
// already uses ARGV[4] others gets no new one: the script answers that entry's place and the wait until
// the IP's oldest name leaves, and the caller refuses that hit without making the counter. Nothing is
// ever deleted to make room: a keyed counter is shared by every IP that sends its key, so deleting one
// would hand a victim account's budget back to whoever rotated keys past the cap.
//
// `#!lua` (Redis 7.0+): a script with a shebang may write, so Redis refuses it *before* it runs when over
// `maxmemory` (without it the script would be stopped at its first write past the limit, halfway through).
import { createHash } from 'node:crypto';

export const SLIDING_WINDOW_SCRIPT = `#!lua
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local id = ARGV[2]
local n = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local waits = {}
local refused = false
for i = 1, n do
  local key = KEYS[i]
  local limit = tonumber(ARGV[i * 3 + 2])
  local win = tonumber(ARGV[i * 3 + 3])
  local stop = ARGV[i * 3 + 4] == '1'
  local at = now
  local newest = redis.pcall('ZRANGE', key, -1, -1, 'WITHSCORES')
  if newest.err then
    redis.call('DEL', key)
  elseif newest[2] and tonumber(newest[2]) > at then
    at = tonumber(newest[2])
  end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', at - win)
  local count = redis.call('ZCARD', key)
  local wait = 0
  if limit < 1 then
    wait = win
  elseif count < limit then
    redis.call('ZADD', key, at, id .. ':' .. i)
    redis.call('PEXPIRE', key, win)
  else
    local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    wait = tonumber(oldest[2]) + win - at
  end
  waits[i] = wait
  if wait > 0 and stop then
    refused = true
    break
  end
end
local capped = {}
if not refused then
  for j = n + 1, #KEYS do
    local index = KEYS[j]
    local a = n * 3 + 5 + (j - n - 1) * 2
    local win = tonumber(ARGV[a])
    local name = ARGV[a + 1]
    redis.call('ZREMRANGEBYSCORE', index, '-inf', now - win)
    if redis.call('ZSCORE', index, name) or redis.call('ZCARD', index) < cap then
      redis.call('ZADD', index, now, name)
      redis.call('PEXPIRE', index, win)
    else
      local oldest = redis.call('ZRANGE', index, 0, 0, 'WITHSCORES')
      capped[#capped + 1] = j - n
      capped[#capped + 1] = math.max(1, tonumber(oldest[2]) + win - now)
    end
  end
end
return {waits, capped}
`;

export const SLIDING_WINDOW_SHA1 = sha1(SLIDING_WINDOW_SCRIPT);

/**
 * The same script for Redis before 7.0, which cannot compile a shebang (the store switches to it when
 * Redis says so): no memory check before the first write, and effects replication asked for explicitly.
 */
export const SLIDING_WINDOW_SCRIPT_BEFORE_7 = SLIDING_WINDOW_SCRIPT.replace(/^#!lua\n/, 'if redis.replicate_commands then redis.replicate_commands() end\n');
export const SLIDING_WINDOW_SHA1_BEFORE_7 = sha1(SLIDING_WINDOW_SCRIPT_BEFORE_7);

function sha1(script: string): string {
  return createHash('sha1').update(script).digest('hex');
}

/** Per key: removes member ARGV[i] of KEYS[i] (a count taken back). It only frees memory, so it may run over `maxmemory` (allow-oom). */
export const REMOVE_SCRIPT = `#!lua flags=allow-oom
for i = 1, #KEYS do
  redis.call('ZREM', KEYS[i], ARGV[i])
end
return #KEYS
`;

/** REMOVE_SCRIPT for Redis before 7.0 (no shebang, so no flags). */
export const REMOVE_SCRIPT_BEFORE_7 = REMOVE_SCRIPT.replace(/^#!lua flags=allow-oom\n/, '');
