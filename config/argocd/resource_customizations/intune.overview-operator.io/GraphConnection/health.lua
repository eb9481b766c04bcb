-- Health of an intune.overview-operator.io GraphConnection or ClusterGraphConnection, read from
-- the conditions the operator writes (docs/resources.md, "Conditions and what they need"):
--   Healthy      Ready=True at the current generation: a token was obtained with the credentials.
--   Degraded     a failure that needs a person (Stalled=True, or Ready=False with such a reason),
--                of the current generation.
--   Progressing  everything else: not checked yet, or Entra ID or Graph unavailable or throttling.
-- It uses only the libraries Argo CD opens without useOpenLibs (base and table): no string.
local hs = {}

-- The reasons that need a person; a Ready=False with one of them is Degraded even without Stalled.
local needsPerson = {
  BadRequest = true,
  Forbidden = true,
  InvalidCredentials = true,
  SecretNotFound = true,
  InvalidConfiguration = true,
  EndpointNotAllowed = true,
}

local function findCondition(conditions, conditionType)
  for _, c in ipairs(conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

-- says is a condition's reason and message, as one line.
local function says(c)
  local reason = c.reason or c.type
  if c.message ~= nil and c.message ~= "" then
    return reason .. ": " .. c.message
  end
  return reason
end

local generation = obj.metadata.generation
-- current is true when g is the connection's generation (always, for an object without one).
local function current(g)
  return generation == nil or g == generation
end

local status = obj.status or {}
local conditions = status.conditions or {}
local ready = findCondition(conditions, "Ready")
local stalled = findCondition(conditions, "Stalled")

if stalled ~= nil and stalled.status == "True" and current(stalled.observedGeneration) then
  hs.status = "Degraded"
  hs.message = says(stalled)
  return hs
end

if ready ~= nil and ready.status == "False" and needsPerson[ready.reason] and current(ready.observedGeneration) then
  hs.status = "Degraded"
  hs.message = says(ready)
  return hs
end

if ready == nil or not current(ready.observedGeneration) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to check the credentials"
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = says(ready)
  return hs
end

hs.status = "Progressing"
hs.message = says(ready)
return hs
