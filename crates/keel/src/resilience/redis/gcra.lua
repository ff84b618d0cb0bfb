-- GCRA rate limit with weights, one atomic step. Time is the Redis server's
-- clock (TIME), so every process of a fleet measures against one clock.
-- KEYS[1]  the limit's key (holds the theoretical arrival time, in µs)
-- ARGV[1]  emission interval T in µs (per / requests; may be fractional)
-- ARGV[2]  burst (permits that may go at once after a quiet period)
-- ARGV[3]  weight (permits this request takes)
-- Returns 0 when granted, the wait in µs (> 0) when not yet, -1 when the
-- weight exceeds the burst (never).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local weight = tonumber(ARGV[3])
if weight == 0 then return 0 end
if weight > burst then return -1 end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval * weight
local allow_at = new_tat - interval * burst
if allow_at > now then
  return math.max(1, math.ceil(allow_at - now))
end
-- The key vanishes once the bucket is full again: an idle limit costs no memory.
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return 0
