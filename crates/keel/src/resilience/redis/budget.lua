-- Retry budget (token bucket), one atomic step. A missing key is a full
-- bucket; a bucket that fills up again is deleted.
-- KEYS[1]  the budget's key
-- ARGV[1]  'take' or 'put'
-- ARGV[2]  capacity
-- ARGV[3]  tokens
-- ARGV[4]  how long an untouched bucket is kept, in ms (then it is full again)
-- Returns 1 when taken (or put), 0 when the bucket cannot pay.
local cap = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local cur = tonumber(redis.call('GET', KEYS[1]) or ARGV[2])
if ARGV[1] == 'take' then
  if cur < n then return 0 end
  redis.call('SET', KEYS[1], string.format('%d', cur - n), 'PX', ARGV[4])
  return 1
end
cur = math.min(cap, cur + n)
if cur >= cap then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%d', cur), 'PX', ARGV[4])
end
return 1
