// The Redis side of the shared rate limiter: the same exact sliding log as the in-process
// MemoryRateLimitStore (engine/rate-limiter.ts), as one Lua script, so counting a request is one round
// trip and atomic (Redis runs a script alone). Per (client, rule) a sorted set holds one member per
// counted request, scored by its time: at most `limit` members in any window, so memory grows with the
// limit (about 140 bytes a member at 10 000/h), and a hit costs a handful of O(log n) commands (13–24 µs
// inside Redis, as the weighted two-window counter before it: bench/rate-limit-script-hit.ts).
//
// Time: by default the script reads Redis's own clock (TIME), so every app instance agrees on where a
// window starts whatever their clock skew; ARGV[1] >= 0 uses the caller's clock instead (tests). Per key
// time never goes backwards (a request older than the newest member counts as at the newest's time),
// which keeps members unique: "<time>:<count before it>" cannot repeat while its time is in the window.
// A key expires one window after its newest member, when nothing in it can matter any more. A key of
// another type (the counters of earlier Moat versions) is replaced instead of failing every request.
import { createHash } from 'node:crypto';

export const SLIDING_WINDOW_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local waits = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local limit = tonumber(ARGV[i * 3 - 1])
  local win = tonumber(ARGV[i * 3])
  local stop = ARGV[i * 3 + 1] == '1'
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
    redis.call('ZADD', key, at, string.format('%.0f:%d', at, count))
    redis.call('PEXPIRE', key, win)
  else
    local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    wait = tonumber(oldest[2]) + win - at
  end
  waits[i] = wait
  if wait > 0 and stop then break end
end
return waits
`;

export const SLIDING_WINDOW_SHA1 = createHash('sha1').update(SLIDING_WINDOW_SCRIPT).digest('hex');
