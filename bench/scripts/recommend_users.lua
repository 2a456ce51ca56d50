-- wrk script: GET /v1/recommend/{user}?k=K for the users of the file $USERS
-- (one id per line), in turn, each wrk thread starting at its own offset.
-- Any non-2xx answer is counted by wrk as an error ("Non-2xx or 3xx responses").
local users = {}
local k = os.getenv("K") or "10"
for line in io.lines(os.getenv("USERS")) do
  if line ~= "" then users[#users + 1] = line end
end
local counter = 0

function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end

local i = 0
function request()
  i = i + 1
  local user = users[((offset or 0) + i) % #users + 1]
  return wrk.format("GET", "/v1/recommend/" .. user .. "?k=" .. k)
end
