{{/* Names are cut at 63 characters: the limit of DNS labels and label values. */}}

{{- define "airlock-microgateway-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release name alone when it already contains the chart name (no "x-x" doubling). */}}
{{- define "airlock-microgateway-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Service names get a suffix: kept within 63 characters with it. */}}
{{- define "airlock-microgateway-operator.xdsServiceName" -}}
{{- printf "%s-xds" (include "airlock-microgateway-operator.fullname" . | trunc 59 | trimSuffix "-") }}
{{- end }}

{{- define "airlock-microgateway-operator.metricsServiceName" -}}
{{- printf "%s-metrics" (include "airlock-microgateway-operator.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/* The DNS name engines dial; the operator's xDS server certificate is issued for it. */}}
{{- define "airlock-microgateway-operator.xdsHost" -}}
{{- printf "%s.%s.svc" (include "airlock-microgateway-operator.xdsServiceName" .) .Release.Namespace }}
{{- end }}

{{- define "airlock-microgateway-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "airlock-microgateway-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* kopf peering: only with several replicas (one replica has nobody to elect against). */}}
{{- define "airlock-microgateway-operator.peering" -}}
{{- if gt (int .Values.replicaCount) 1 }}
{{- default (include "airlock-microgateway-operator.fullname" .) .Values.peering.name }}
{{- end }}
{{- end }}

{{- define "airlock-microgateway-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "airlock-microgateway-operator.instanceLabels" -}}
app.kubernetes.io/name: {{ include "airlock-microgateway-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The operator pods only (not the `helm test` pod, which carries the instance labels too). */}}
{{- define "airlock-microgateway-operator.selectorLabels" -}}
{{ include "airlock-microgateway-operator.instanceLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Every resource's labels (Services and pods add app.kubernetes.io/component). */}}
{{- define "airlock-microgateway-operator.labels" -}}
{{ include "airlock-microgateway-operator.instanceLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Checks that fail the install early with a clear message rather than half-way through it.
The cluster checks run on install and upgrade only: `helm lint` knows no cluster (`helm
template` counts as an install: give it --api-versions).
*/}}
{{- define "airlock-microgateway-operator.preflight" -}}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled: there is nothing to scrape" }}
{{- end }}
{{- if or .Release.IsInstall .Release.IsUpgrade }}
{{- $missing := list }}
{{- range $kind := list "GatewayClass" "Gateway" "HTTPRoute" "ReferenceGrant" }}
{{- if not ($.Capabilities.APIVersions.Has (printf "gateway.networking.k8s.io/v1/%s" $kind)) }}
{{- $missing = append $missing $kind }}
{{- end }}
{{- end }}
{{- if $missing }}
{{- fail (printf "\n\nThe Gateway API CRDs are a prerequisite of this chart and are missing (%s of gateway.networking.k8s.io/v1).\nInstall the standard channel first, e.g.:\n  kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.1/standard-install.yaml\n" (join ", " $missing)) }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")) }}
{{- fail "\n\nmetrics.serviceMonitor.enabled needs the Prometheus Operator's ServiceMonitor CRD (monitoring.coreos.com/v1), which the cluster does not serve.\n" }}
{{- end }}
{{- end }}
{{- end }}
