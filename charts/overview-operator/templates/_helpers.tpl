{{/*
The release's name prefix: the release name, with the chart name in front unless it already
contains it, so that `helm install overview-operator` gives config/default's names
(overview-operator-controller-manager, ...).
*/}}
{{- define "overview-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The manager's ServiceAccount and Deployment. */}}
{{- define "overview-operator.managerName" -}}
{{ include "overview-operator.fullname" . }}-controller-manager
{{- end }}

{{/* Labels on every object. */}}
{{- define "overview-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "overview-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* What the Deployment, the Service, the ServiceMonitor and the NetworkPolicy select the pods by. */}}
{{- define "overview-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end }}

{{/*
"true" when the replicas share the work by tenant (--sharding), else empty: sharding.enabled when it
is set, else whether replicaCount is above 1. Leader election applies only when this is empty.
*/}}
{{- define "overview-operator.sharding" -}}
{{- $enabled := .Values.sharding.enabled -}}
{{- if kindIs "invalid" $enabled -}}
{{- if gt (int .Values.replicaCount) 1 }}true{{ end -}}
{{- else if $enabled -}}
true
{{- end -}}
{{- end }}

{{/* The ring the replicas of a sharded release share: sharding.ring, else the release's prefix. */}}
{{- define "overview-operator.shardRing" -}}
{{- .Values.sharding.ring | default (include "overview-operator.fullname" .) }}
{{- end }}

{{/*
The manager's arguments: config/manager's (config/sharded's when sharded), then only the flags a
value sets.
*/}}
{{- define "overview-operator.args" -}}
{{- $o := .Values.operator -}}
{{- $sharded := include "overview-operator.sharding" . -}}
{{- if $sharded }}
- --sharding
{{- else if .Values.leaderElection.enabled }}
- --leader-elect
{{- end }}
- --health-probe-bind-address=:8081
- --metrics-bind-address=:{{ .Values.metrics.port }}
{{- if not .Values.metrics.secure }}
- --metrics-secure=false
{{- end }}
{{- if $sharded }}
- --sharding-ring={{ include "overview-operator.shardRing" . }}
{{- with .Values.sharding }}
{{- with .leaseDuration }}
- --sharding-lease-duration={{ . }}
{{- end }}
{{- with .renewDeadline }}
- --sharding-renew-deadline={{ . }}
{{- end }}
{{- with .retryPeriod }}
- --sharding-retry-period={{ . }}
{{- end }}
{{- end }}
{{- else }}
{{- with .Values.leaderElection }}
{{- with .leaseDuration }}
- --leader-elect-lease-duration={{ . }}
{{- end }}
{{- with .renewDeadline }}
- --leader-elect-renew-deadline={{ . }}
{{- end }}
{{- with .retryPeriod }}
- --leader-elect-retry-period={{ . }}
{{- end }}
{{- end }}
{{- end }}
{{- with $o.syncInterval }}
- --sync-interval={{ . }}
{{- end }}
{{- with $o.maxConcurrentReconciles }}
- --max-concurrent-reconciles={{ . }}
{{- end }}
{{- with $o.watchNamespaces }}
- --watch-namespaces={{ join "," . }}
{{- end }}
{{- with $o.watchLabelSelector }}
- {{ printf "--watch-label-selector=%s" . | quote }}
{{- end }}
{{- with $o.secretLabelSelector }}
- {{ printf "--secret-label-selector=%s" . | quote }}
{{- end }}
{{- with $o.allowedEndpointHosts }}
- --allowed-endpoint-hosts={{ join "," . }}
{{- end }}
{{- if $o.allowNamespacedCABundle }}
- --allow-namespaced-ca-bundle
{{- end }}
{{- with $o.graph }}
{{- with .requestsPerWindow }}
- --graph-requests-per-window={{ . }}
{{- end }}
{{- with .writesPerWindow }}
- --graph-writes-per-window={{ . }}
{{- end }}
{{- with .tenantRequestsPerWindow }}
- --graph-tenant-requests-per-window={{ . }}
{{- end }}
{{- with .tenantWritesPerWindow }}
- --graph-tenant-writes-per-window={{ . }}
{{- end }}
{{- with .budgetWindow }}
- --graph-budget-window={{ . }}
{{- end }}
{{- with .maxInFlight }}
- --graph-max-in-flight={{ . }}
{{- end }}
{{- with .timeout }}
- --graph-timeout={{ . }}
{{- end }}
{{- end }}
{{- with $o.retryBaseDelay }}
- --retry-base-delay={{ . }}
{{- end }}
{{- with $o.retryMaxDelay }}
- --retry-max-delay={{ . }}
{{- end }}
{{- with $o.credentialsRetry }}
- --credentials-retry={{ . }}
{{- end }}
{{- with $o.gracefulShutdownTimeout }}
- --graceful-shutdown-timeout={{ . }}
{{- end }}
{{- with $o.logLevel }}
- --zap-log-level={{ . }}
{{- end }}
{{- range $o.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/* Binds the <fullname>-secrets Role in .namespace to the operator's ServiceAccount. */}}
{{- define "overview-operator.secretsRoleBinding" -}}
{{- $fullname := include "overview-operator.fullname" .root }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $fullname }}-secrets
  namespace: {{ .namespace }}
  labels:
    {{- include "overview-operator.labels" .root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $fullname }}-secrets
subjects:
- kind: ServiceAccount
  name: {{ include "overview-operator.managerName" .root }}
  namespace: {{ .root.Release.Namespace }}
{{- end }}
