{{/* Names, labels and the pieces every workload shares. */}}
{{- define "amlrisk.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "amlrisk.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* selector labels of one component: (dict "ctx" $ "component" "core") */}}
{{- define "amlrisk.selector" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "amlrisk.image" -}}
{{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) | quote }}
{{- end -}}

{{- define "amlrisk.secretName" -}}
{{- default (printf "%s-secrets" (include "amlrisk.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* every core instance, comma-separated (the gateway spreads reads over
     them and sends writes to the elected writer) */}}
{{- define "amlrisk.coreUrl" -}}
{{- $full := include "amlrisk.fullname" . -}}
{{- $urls := list -}}
{{- range $i := until (int .Values.core.replicas) -}}
{{- $urls = append $urls (printf "tcp://%s-core-%d.%s-core-peers:%d" $full $i $full (int $.Values.core.rpcPort)) -}}
{{- end -}}
{{ join "," $urls }}
{{- end -}}

{{/* DATABASE_URL from the Secret */}}
{{- define "amlrisk.databaseEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "amlrisk.secretName" . }}
      key: database-url
{{- end -}}

{{/* the RPC secret as a file (RPC_SECRET_FILE), never as a variable */}}
{{- define "amlrisk.rpcSecretEnv" -}}
- name: RPC_SECRET_FILE
  value: /etc/amlrisk/rpc/rpc-secret
{{- end -}}
{{- define "amlrisk.rpcSecretMount" -}}
- name: rpc-secret
  mountPath: /etc/amlrisk/rpc
  readOnly: true
{{- end -}}
{{- define "amlrisk.rpcSecretVolume" -}}
- name: rpc-secret
  secret:
    secretName: {{ include "amlrisk.secretName" . }}
    defaultMode: 0440
    items:
      - key: rpc-secret
        path: rpc-secret
{{- end -}}

{{/* extra variables: a map NAME: value */}}
{{- define "amlrisk.extraEnv" -}}
{{- range $k, $v := . }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{- define "amlrisk.metricsEnv" -}}
{{- if gt (int .port) 0 }}
- name: {{ .env }}
  value: {{ printf "0.0.0.0:%d" (int .port) | quote }}
{{- end }}
{{- end -}}

{{- define "amlrisk.pod" -}}
{{- with .ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .ctx.Values.podSecurityContext | nindent 2 }}
{{- with .comp.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .comp.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .comp.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
