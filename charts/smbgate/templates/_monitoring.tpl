{{/*
Prometheus rules and the Grafana dashboard. Their sources are files/monitoring/ (rules.yaml and
alerts.yaml are Helm templates of the values under monitoring:, dashboard.json is plain);
templates/prometheusrule.yaml and templates/dashboard-configmap.yaml use these, and so does
deploy/monitoring/render.sh, which writes deploy/monitoring/ from them with the defaults.
*/}}

{{/* The recording rules file (Prometheus rule file format). Input: the root context. */}}
{{- define "smbgate.monitoring.rules" -}}
{{- include "smbgate.monitoring.check" . }}
{{- tpl (.Files.Get "files/monitoring/rules.yaml") . }}
{{- end }}

{{/* The alerts file (Prometheus rule file format). Input: the root context. */}}
{{- define "smbgate.monitoring.alerts" -}}
{{- include "smbgate.monitoring.check" . }}
{{- tpl (.Files.Get "files/monitoring/alerts.yaml") . }}
{{- end }}

{{/* The Grafana dashboard (JSON). */}}
{{- define "smbgate.monitoring.dashboard" -}}
{{- .Files.Get "files/monitoring/dashboard.json" }}
{{- end }}

{{/*
Refuses thresholds the schema cannot: a burn rate whose threshold, rate x (1 - objective), is
1 or more would never fire (an error ratio cannot exceed 1).
*/}}
{{- define "smbgate.monitoring.check" -}}
{{- $t := .Values.monitoring.thresholds }}
{{- range $name := list "authFastBurnRate" "authSlowBurnRate" }}
{{- $rate := get $t $name | float64 }}
{{- if ge (mulf $rate (subf 1 ($t.authObjective | float64))) 1.0 }}
{{- fail (printf "monitoring.thresholds.%s: %v x (1 - authObjective %v) is 1 or more, so the alert could never fire; lower it" $name $rate $t.authObjective) }}
{{- end }}
{{- end }}
{{- end }}
