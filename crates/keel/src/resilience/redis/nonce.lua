-- Strictly increasing nonces per key, optionally under a lease. Values stay
-- decimal strings and are compared as such (Lua numbers are doubles and lose
-- integers above 2^53); INCR does the arithmetic in 64-bit integers.
-- KEYS[1]  the sequence's key (the last nonce handed out)
-- KEYS[2]  the lease's key
-- ARGV[1]  'next', 'lease' or 'release'
-- ARGV[2]  next/lease: the floor (decimal, < 2^63); release: the token
-- ARGV[3]  lease: the holder's token
-- ARGV[4]  lease: how long the lease holds, in ms
-- Returns next: the nonce (string); lease: the nonce (string), or false
-- when another holder has the key; release: 1 if released, 0 if not held.
local function less(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
-- max(last + 1, floor); a missing key is last = 0.
local function take(floor)
  local cur = redis.call('GET', KEYS[1]) or '0'
  if less(cur, floor) then
    redis.call('SET', KEYS[1], floor)
    return floor
  end
  redis.call('INCR', KEYS[1])
  return redis.call('GET', KEYS[1])
end
local op = ARGV[1]
if op == 'next' then
  return take(ARGV[2])
elseif op == 'lease' then
  if not redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[4]) then
    return false
  end
  return take(ARGV[2])
else
  if redis.call('GET', KEYS[2]) == ARGV[2] then
    redis.call('DEL', KEYS[2])
    return 1
  end
  return 0
end
