-- Stops every Graph call for the resource until the annotation is removed (the resume action).
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["intune.overview-operator.io/paused"] = "true"
return obj
