{{/* Names are fixed, not derived from the release: the CRDs and the webhook configurations
     are cluster-wide, so one installation per cluster; the operator finds the webhook
     configurations ("agentbudget") and its Secrets by these names. */}}
{{- define "agentbudget.operator" -}}agentbudget-operator{{- end -}}
{{- define "agentbudget.webhook" -}}agentbudget-webhook{{- end -}}
{{- define "agentbudget.webhookTlsSecret" -}}agentbudget-webhook-tls{{- end -}}

{{- define "agentbudget.labels" -}}
app.kubernetes.io/name: agentbudget
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* selector labels: (dict "root" $ "component" "operator") */}}
{{- define "agentbudget.selector" -}}
app.kubernetes.io/name: agentbudget
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* image reference: (dict "root" $ "image" .Values.operator.image) */}}
{{- define "agentbudget.image" -}}
{{ .root.Values.image.registry }}/{{ .image.repository }}:{{ .image.tag | default .root.Chart.AppVersion }}
{{- end -}}

{{/* The authority always serves TLS. */}}
{{- define "agentbudget.authorityUrl" -}}
https://{{ include "agentbudget.operator" . }}.{{ .Release.Namespace }}.svc:{{ .Values.operator.authority.port }}
{{- end -}}

{{/* The Secret of a given authority certificate (user's or cert-manager's); empty: the
     operator issues one from its own CA and publishes the CA in ConfigMap
     agentbudget-authority-ca. */}}
{{- define "agentbudget.authorityTlsSecret" -}}
{{- if .Values.operator.authority.tlsSecretName -}}
{{ .Values.operator.authority.tlsSecretName }}
{{- else if .Values.certManager.enabled -}}
agentbudget-authority-tls
{{- end -}}
{{- end -}}

{{/* The hardened container security context every component uses. */}}
{{- define "agentbudget.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: {drop: [ALL]}
seccompProfile: {type: RuntimeDefault}
{{- end -}}
