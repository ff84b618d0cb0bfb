-- Circuit breaker for one origin (and one set of breaker settings), one
-- atomic step: the same state machine as Keel's in-process breaker, with the
-- Redis server's clock. A transition is made, and returned, by exactly one
-- call, so it is reported once however many processes share the breaker.
-- KEYS[1]  the breaker's hash
-- ARGV[1]  'wait', 'admit', 'report' or 'status'
-- ARGV[2]  consecutive failures that trip it (0: off)
-- ARGV[3]  failure ratio that trips it (0: off)
-- ARGV[4]  the ratio's window, µs
-- ARGV[5]  the ratio's minimum throughput
-- ARGV[6]  how long it stays open, µs
-- ARGV[7]  half-open probes
-- ARGV[8]  report: 'p' for a probe's outcome, 'n' otherwise
-- ARGV[9]  report: '1' for a failure, '0' for a success
-- ARGV[10] how long an untouched breaker is kept, ms
-- Transitions are coded 0 none, 1 closed>open, 2 open>half-open,
-- 3 half-open>open, 4 half-open>closed.
-- Returns wait: the wait in µs, or -1 when an attempt may go;
--         admit: {1, probe (0/1), transition} or {0, wait µs, transition};
--         report: the transition; status: 0 closed, 1 open, 2 half-open.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local key = KEYS[1]
local op = ARGV[1]
local cons_n = tonumber(ARGV[2])
local ratio = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local min_tp = tonumber(ARGV[5])
local open_for = tonumber(ARGV[6])
local probes = tonumber(ARGV[7])
local ttl = ARGV[10]
local function fmt(n) return string.format('%.0f', n) end

local s = redis.call('HMGET', key, 'ph', 'until', 'inf', 'succ', 'since', 'cons')
local ph = s[1] or 'c'
local open_until = tonumber(s[2] or '0')
local inf = tonumber(s[3] or '0')
local succ = tonumber(s[4] or '0')
local since = tonumber(s[5] or '0')
local cons = tonumber(s[6] or '0')

local function clear_window()
  local f = {}
  for j = 0, 9 do
    f[#f + 1] = 'e' .. j
    f[#f + 1] = 's' .. j
    f[#f + 1] = 'f' .. j
  end
  redis.call('HDEL', key, unpack(f))
end
local function open()
  redis.call('HSET', key, 'ph', 'o', 'until', fmt(now + open_for), 'cons', '0')
  clear_window()
  redis.call('PEXPIRE', key, ttl)
end
local function half(n)
  redis.call('HSET', key, 'ph', 'h', 'inf', n, 'succ', '0', 'since', fmt(now))
  redis.call('PEXPIRE', key, ttl)
end

if op == 'status' then
  if ph == 'o' then return 1 elseif ph == 'h' then return 2 end
  return 0
end

if op == 'wait' then
  if ph == 'o' and now < open_until then return math.max(1, open_until - now) end
  return -1
end

if op == 'admit' then
  if ph == 'c' then return {1, 0, 0} end
  if ph == 'o' then
    if now < open_until then return {0, math.max(1, open_until - now), 0} end
    half(1)
    return {1, 1, 2}
  end
  -- half-open
  if inf + succ < probes then
    redis.call('HINCRBY', key, 'inf', 1)
    return {1, 1, 0}
  end
  if now - since >= open_for then
    -- The probes never reported (their callers went away): a fresh round.
    half(1)
    return {1, 1, 0}
  end
  return {0, math.max(1, open_for - (now - since)), 0}
end

-- report
local probe = ARGV[8] == 'p'
local failure = ARGV[9] == '1'
if ph == 'o' then return 0 end
if ph == 'h' then
  if not probe then return 0 end
  if failure then
    open()
    return 3
  end
  succ = succ + 1
  if succ >= probes then
    redis.call('DEL', key)
    return 4
  end
  redis.call('HSET', key, 'inf', math.max(0, inf - 1), 'succ', succ)
  return 0
end
-- closed
if failure then cons = cons + 1 else cons = 0 end
local trip = cons_n > 0 and cons >= cons_n
if ratio > 0 then
  local slice = math.max(math.floor(window / 10), 1000)
  local ep = math.floor(now / slice) + 1
  local fields = {}
  for j = 0, 9 do
    fields[#fields + 1] = 'e' .. j
    fields[#fields + 1] = 's' .. j
    fields[#fields + 1] = 'f' .. j
  end
  local b = redis.call('HMGET', key, unpack(fields))
  local i = ep % 10
  local e_i = tonumber(b[i * 3 + 1] or '0')
  local s_i = tonumber(b[i * 3 + 2] or '0')
  local f_i = tonumber(b[i * 3 + 3] or '0')
  if e_i ~= ep then s_i = 0; f_i = 0 end
  if failure then f_i = f_i + 1 else s_i = s_i + 1 end
  redis.call('HSET', key, 'e' .. i, fmt(ep), 's' .. i, s_i, 'f' .. i, f_i)
  b[i * 3 + 1] = fmt(ep); b[i * 3 + 2] = s_i; b[i * 3 + 3] = f_i
  local n, f = 0, 0
  for j = 0, 9 do
    local ej = tonumber(b[j * 3 + 1] or '0')
    if ej ~= 0 and ej >= ep - 9 and ej <= ep then
      local sj = tonumber(b[j * 3 + 2] or '0')
      local fj = tonumber(b[j * 3 + 3] or '0')
      n = n + sj + fj
      f = f + fj
    end
  end
  if failure and n >= min_tp and f >= ratio * n then trip = true end
end
if trip then
  open()
  return 1
end
if cons > 0 or ratio > 0 then
  redis.call('HSET', key, 'ph', 'c', 'cons', cons)
  redis.call('PEXPIRE', key, ttl)
elseif s[1] then
  redis.call('HSET', key, 'cons', '0')
end
return 0
