-- Removes the paused annotation: the operator syncs the resource again.
if obj.metadata.annotations ~= nil then
  obj.metadata.annotations["intune.overview-operator.io/paused"] = nil
end
return obj
