// Package argocd runs the operator's Argo CD resource customizations (config/argocd: health checks
// and actions in Lua, in the layout of argoproj/argo-cd's resource_customizations) the way Argo CD
// runs them, and renders them as the argocd-cm ConfigMap that installs them.
//
// VM follows Argo CD's util/lua: github.com/yuin/gopher-lua with only the package, base and table
// libraries and a safe os subset (date and time) reachable through require("os"), the object in
// the global obj, a one-second limit, and the returned table read as Argo CD reads it. It is not
// Argo CD's code: it is what the tests need to hold the scripts to Argo CD's rules.
package argocd
