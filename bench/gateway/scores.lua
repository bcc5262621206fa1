-- scores.lua: wrk script for GET /scores/{wallet} over random wallets
-- w0000000 .. w(N-1) (N from the WALLETS environment variable, default 1000000).
local n = tonumber(os.getenv("WALLETS") or "1000000")

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6) + (id or 0))
end

function request()
  return wrk.format("GET", string.format("/scores/w%07d", math.random(0, n - 1)))
end
