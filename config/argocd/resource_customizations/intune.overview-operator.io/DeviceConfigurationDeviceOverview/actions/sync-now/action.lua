-- Asks the operator to read Graph (and, under Manage, PATCH it) now, ahead of routine resyncs; it
-- echoes the value in status.lastHandledReconcileAt once served. Argo CD does not set the global
-- os: the safe subset (os.date, os.time) comes from require.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["intune.overview-operator.io/reconcile-requested-at"] = os.date("!%Y-%m-%dT%XZ")
return obj
