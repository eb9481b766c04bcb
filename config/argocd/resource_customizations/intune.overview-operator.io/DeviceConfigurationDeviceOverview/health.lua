-- Health of an intune.overview-operator.io DeviceConfigurationUserOverview or
-- DeviceConfigurationDeviceOverview (one script for both: they share their status), read from the
-- conditions the operator writes (docs/resources.md, "Conditions and what they need"):
--   Suspended    the paused annotation is "true": no Graph call is made until it is removed.
--   Degraded     a failure that needs a person (Stalled=True, or Ready=False with such a reason),
--                of the current generation. NotFound too: the operator looks again every two
--                minutes, but only a person creates the configuration or fixes the id.
--   Healthy      Ready=True at the current generation, and no requested sync left to serve.
--   Progressing  everything else: the generation is not synced yet, Graph throttles or is
--                unavailable, a PATCH was not kept (NotPersisted, retried with backoff), or
--                Intune's Multi Admin Approval holds a PATCH for an approver (ApprovalPending:
--                the operator follows the request and sends the PATCH once it is approved).
-- It uses only the libraries Argo CD opens without useOpenLibs (base and table): no string.
local hs = {}

local pausedAnnotation = "intune.overview-operator.io/paused"
local requestedAtAnnotation = "intune.overview-operator.io/reconcile-requested-at"

-- The reasons that need a person; a Ready=False with one of them is Degraded even without Stalled.
local needsPerson = {
  NotFound = true,
  BadRequest = true,
  InvalidSpec = true,
  Forbidden = true,
  InvalidCredentials = true,
  SecretNotFound = true,
  InvalidConfiguration = true,
  EndpointNotAllowed = true,
  ConnectionNotFound = true,
  ConnectionNotAllowed = true,
  ApprovalRequired = true,
  ApprovalRejected = true,
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
-- current is true when g is the resource's generation (always, for an object without one).
local function current(g)
  return generation == nil or g == generation
end

local annotations = obj.metadata.annotations or {}
local status = obj.status or {}
local conditions = status.conditions or {}
local ready = findCondition(conditions, "Ready")
local synced = findCondition(conditions, "Synced")
local stalled = findCondition(conditions, "Stalled")

-- lastAttempt says why the last try failed, when it did, for a Progressing message.
local function lastAttempt()
  if synced ~= nil and synced.status == "False" and current(synced.observedGeneration) then
    return " (" .. says(synced) .. ")"
  end
  return ""
end

if annotations[pausedAnnotation] == "true" then
  hs.status = "Suspended"
  hs.message = "Paused: the " .. pausedAnnotation .. " annotation is \"true\", so no Graph calls are made until it is removed"
  return hs
end

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

if not current(status.observedGeneration) or ready == nil then
  hs.status = "Progressing"
  if generation ~= nil then
    hs.message = "Waiting for the operator to sync generation " .. generation .. lastAttempt()
  else
    hs.message = "Waiting for the operator to sync the resource" .. lastAttempt()
  end
  return hs
end

if ready.status == "True" and current(ready.observedGeneration) then
  local requested = annotations[requestedAtAnnotation]
  if requested ~= nil and requested ~= "" and requested ~= status.lastHandledReconcileAt then
    hs.status = "Progressing"
    hs.message = "Waiting for the operator to serve the sync requested at " .. requested .. lastAttempt()
    return hs
  end
  hs.status = "Healthy"
  hs.message = says(ready)
  return hs
end

hs.status = "Progressing"
hs.message = says(ready)
return hs
