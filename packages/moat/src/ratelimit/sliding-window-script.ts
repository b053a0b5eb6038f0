// The Redis side of the shared rate limiter: the same weighted two-window counter as the in-process
// MemoryRateLimitStore (engine/rate-limiter.ts), as one Lua script, so counting a request is one round
// trip and atomic (Redis runs a script alone). Two numbers per (client, rule) in one hash, not a
// timestamp per request (a sorted-set log would be exact but grows with the limit and costs a ZADD,
// ZREMRANGEBYSCORE and ZCARD per hit); the weighted estimate already allows no double burst at an edge.
//
// Time: by default the script reads Redis's own clock (TIME), so every app instance agrees on where a
// window starts whatever their clock skew; ARGV[1] >= 0 uses the caller's clock instead (tests).
// Each key lives for two windows after its last write: after that its count can no longer matter.
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
  local limit = tonumber(ARGV[i * 3 - 1])
  local win = tonumber(ARGV[i * 3])
  local stop = ARGV[i * 3 + 1] == '1'
  local start = now - (now % win)
  local state = redis.call('HMGET', KEYS[i], 's', 'c', 'p')
  local s = tonumber(state[1])
  local count, prev = 0, 0
  if s == start then
    count = tonumber(state[2]) or 0
    prev = tonumber(state[3]) or 0
  elseif s ~= nil and start - s == win then
    prev = tonumber(state[2]) or 0
  end
  local elapsed = now - start
  local estimate = prev * ((win - elapsed) / win) + count
  local wait = 0
  if estimate + 1 <= limit then
    count = count + 1
  elseif count + 1 <= limit and prev > 0 then
    wait = math.max(1, math.ceil(win - ((limit - 1 - count) * win) / prev - elapsed))
  else
    local untilNext = win - elapsed
    if count == 0 then
      wait = untilNext
    else
      wait = math.max(1, math.ceil(untilNext + math.max(0, win - ((limit - 1) * win) / count)))
    end
  end
  redis.call('HSET', KEYS[i], 's', start, 'c', count, 'p', prev)
  redis.call('PEXPIRE', KEYS[i], win * 2)
  waits[i] = wait
  if wait > 0 and stop then break end
end
return waits
`;

export const SLIDING_WINDOW_SHA1 = createHash('sha1').update(SLIDING_WINDOW_SCRIPT).digest('hex');
