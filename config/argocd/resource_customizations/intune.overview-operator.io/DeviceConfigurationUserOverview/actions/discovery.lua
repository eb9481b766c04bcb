-- Actions on a DeviceConfigurationUserOverview or DeviceConfigurationDeviceOverview: sync now,
-- pause, resume. A paused resource makes no Graph calls, so sync-now is offered only while it is
-- not paused.
local actions = {}
local paused = obj.metadata.annotations ~= nil and obj.metadata.annotations["intune.overview-operator.io/paused"] == "true"
actions["sync-now"] = {["disabled"] = paused, ["displayName"] = "Sync now"}
actions["pause"] = {["disabled"] = paused, ["displayName"] = "Pause"}
actions["resume"] = {["disabled"] = not paused, ["displayName"] = "Resume"}
return actions
