{{/* Names, labels and the pieces that the gateway and worker pods share. */}}

{{- define "hyserve.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release name + chart name, unless the release name already contains it; at most 55 characters, so that
the longest suffix ("-gateway") still fits a 63-character name. */}}
{{- define "hyserve.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 55 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 55 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 55 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hyserve.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hyserve.labels" -}}
helm.sh/chart: {{ include "hyserve.chart" . }}
{{ include "hyserve.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "hyserve.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hyserve.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one role's resources; call with (dict "ctx" $ "component" "gateway"). */}}
{{- define "hyserve.componentLabels" -}}
{{ include "hyserve.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "hyserve.componentSelectorLabels" -}}
{{ include "hyserve.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "hyserve.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hyserve.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, the tag defaulting to the chart's appVersion; call with (dict "image" .Values.x.image "ctx" $). */}}
{{- define "hyserve.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) }}
{{- end }}

{{- define "hyserve.apiKeysSecretName" -}}
{{- default (printf "%s-api-keys" (include "hyserve.fullname" .)) .Values.gateway.apiKeys.existingSecret }}
{{- end }}

{{- define "hyserve.strimziClusterName" -}}
{{- default (include "hyserve.fullname" .) .Values.kafka.strimzi.clusterName }}
{{- end }}

{{/* What both roles connect to: the Strimzi cluster's plain listener, or the existing cluster. */}}
{{- define "hyserve.kafkaBootstrap" -}}
{{- if .Values.kafka.strimzi.enabled }}
{{- printf "%s-kafka-bootstrap:9092" (include "hyserve.strimziClusterName" .) }}
{{- else }}
{{- .Values.kafka.bootstrapServers }}
{{- end }}
{{- end }}

{{/* "true" when the workers get GPUs; empty otherwise. */}}
{{- define "hyserve.gpuRequested" -}}
{{- if and (gt (int .Values.worker.gpus) 0) (ne .Values.worker.device "cpu") }}true{{ end }}
{{- end }}

{{/* The workers' terminationGracePeriodSeconds: the drain grace plus the time to stop afterwards. */}}
{{- define "hyserve.workerTerminationGrace" -}}
{{- add .Values.worker.shutdownGraceSeconds .Values.worker.terminationMarginSeconds }}
{{- end }}

{{- define "hyserve.gatewayScheme" -}}
{{- if .Values.gateway.tls.enabled }}https{{ else }}http{{ end }}
{{- end }}

{{/* Mount points inside the containers. */}}
{{- define "hyserve.modelDir" -}}/model{{- end }}
{{- define "hyserve.configDir" -}}/etc/hyserve/config{{- end }}
{{- define "hyserve.apiKeysFile" -}}/etc/hyserve/api-keys/keys{{- end }}
{{- define "hyserve.kafkaConfigDir" -}}/etc/hyserve/kafka{{- end }}
{{- define "hyserve.tlsDir" -}}/etc/hyserve/tls{{- end }}

{{/* Environment of both roles: the properties file of the role and the pod name as instance id (the gateway's
events topic is named after it). Call with (dict "ctx" $ "role" "gateway"). */}}
{{- define "hyserve.env" -}}
- name: HYSERVE_CONFIG
  value: {{ include "hyserve.configDir" .ctx }}/{{ .role }}.properties
- name: HYSERVE_INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end }}

{{/* Container arguments: the role, then the files the chart mounts, and tracing; call with (dict "ctx" $ "role"
"gateway"). */}}
{{- define "hyserve.args" -}}
{{- $v := .ctx.Values }}
{{- $args := list "serve" "--role" .role }}
{{- if and (eq .role "gateway") $v.gateway.apiKeys.enabled }}
{{- $args = concat $args (list "--api-keys-file" (include "hyserve.apiKeysFile" .ctx)) }}
{{- end }}
{{- if and (eq .role "gateway") $v.gateway.tls.enabled }}
{{- $tls := include "hyserve.tlsDir" .ctx }}
{{- $args = concat $args (list "--tls-cert" (printf "%s/tls.crt" $tls) "--tls-key" (printf "%s/tls.key" $tls)) }}
{{- end }}
{{- if $v.kafka.clientConfig.existingSecret }}
{{- $file := printf "%s/%s" (include "hyserve.kafkaConfigDir" .ctx) $v.kafka.clientConfig.key }}
{{- $args = concat $args (list "--kafka-config" $file) }}
{{- end }}
{{- with $v.otel.endpoint }}
{{- $args = concat $args (list "--otlp-endpoint" .) }}
{{- end }}
{{- toYaml $args }}
{{- end }}

{{/* Volume mounts of both roles. */}}
{{- define "hyserve.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: config
  mountPath: {{ include "hyserve.configDir" . }}
  readOnly: true
- name: model
  mountPath: {{ include "hyserve.modelDir" . }}
  readOnly: true
  {{- if and (eq .Values.model.source "pvc") .Values.model.pvc.subPath }}
  subPath: {{ .Values.model.pvc.subPath }}
  {{- end }}
{{- if .Values.kafka.clientConfig.existingSecret }}
- name: kafka-client-config
  mountPath: {{ include "hyserve.kafkaConfigDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/* Volumes of both roles; call with (dict "ctx" $ "role" "gateway"). */}}
{{- define "hyserve.volumes" -}}
{{- $v := .ctx.Values -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ $v.tmpSizeLimit }}
- name: config
  configMap:
    name: {{ include "hyserve.fullname" .ctx }}
- name: model
  {{- if eq $v.model.source "pvc" }}
  persistentVolumeClaim:
    claimName: {{ $v.model.pvc.claimName }}
    readOnly: true
  {{- else if eq $v.model.source "hostPath" }}
  hostPath:
    path: {{ $v.model.hostPath.path }}
    type: {{ $v.model.hostPath.type }}
  {{- else }}
  emptyDir:
    sizeLimit: {{ eq .role "worker" | ternary $v.model.initContainer.sizeLimit $v.model.initContainer.gatewaySizeLimit }}
  {{- end }}
{{- if $v.kafka.clientConfig.existingSecret }}
{{- /* The whole secret, so that the properties can name a truststore or keystore beside them. */}}
- name: kafka-client-config
  secret:
    secretName: {{ $v.kafka.clientConfig.existingSecret }}
{{- end }}
{{- end }}

{{/* The init container that copies the checkpoint into the model emptyDir; the gateway's skips the weights.
Call with (dict "ctx" $ "role" "gateway"). */}}
{{- define "hyserve.modelInitContainer" -}}
{{- $v := .ctx.Values }}
{{- if eq $v.model.source "initContainer" }}
{{- $init := $v.model.initContainer -}}
- name: copy-model
  image: {{ printf "%s:%s" $init.image.repository $init.image.tag }}
  imagePullPolicy: {{ $init.image.pullPolicy }}
  command:
    {{- toYaml $init.command | nindent 4 }}
  {{- with $init.args }}
  args:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  env:
    - name: MODEL_DIR
      value: {{ include "hyserve.modelDir" .ctx }}
    - name: HYSERVE_COPY_WEIGHTS
      value: {{ eq .role "worker" | quote }}
    # Copy tools keep caches under $HOME; the root filesystem is read-only.
    - name: HOME
      value: /tmp
    {{- with $init.env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
  {{- /* The scheduler places the pod only where the copy fits on the node's disk. */}}
  {{- $storage := ternary $init.sizeLimit $init.gatewaySizeLimit (eq .role "worker") }}
  {{- $resources := deepCopy (default dict $init.resources) }}
  {{- $_ := set $resources "requests" (merge (default dict $resources.requests) (dict "ephemeral-storage" $storage)) }}
  resources:
    {{- toYaml $resources | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    - name: model
      mountPath: {{ include "hyserve.modelDir" .ctx }}
{{- end }}
{{- end }}

{{/* Strimzi 1.0 serves only kafka.strimzi.io/v1; older operators only v1beta2, with the same fields used here. */}}
{{- define "hyserve.strimziApiVersion" -}}
{{- ternary "kafka.strimzi.io/v1" "kafka.strimzi.io/v1beta2" (.Capabilities.APIVersions.Has "kafka.strimzi.io/v1") }}
{{- end }}

{{/* Pod-level settings of both roles. */}}
{{- define "hyserve.podSpecCommon" -}}
serviceAccountName: {{ include "hyserve.serviceAccountName" . }}
# Service links would put variables such as HYSERVE_PORT into the environment, where serve reads its options.
enableServiceLinks: false
automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/* Checks that the schema cannot express (they relate two values); fails once with every message. */}}
{{- define "hyserve.validateValues" -}}
{{- $errors := list }}
{{- $v := .Values }}
{{- if and $v.gateway.autoscaling.enabled (gt (int $v.gateway.autoscaling.minReplicas) (int $v.gateway.autoscaling.maxReplicas)) }}
{{- $errors = append $errors "gateway.autoscaling.minReplicas must not exceed gateway.autoscaling.maxReplicas" }}
{{- end }}
{{- if and $v.kafka.strimzi.enabled (gt (int $v.kafka.replication) (int $v.kafka.strimzi.replicas)) }}
{{- $errors = append $errors (printf "kafka.replication (%d) needs at least as many brokers: kafka.strimzi.replicas is %d" (int $v.kafka.replication) (int $v.kafka.strimzi.replicas)) }}
{{- end }}
{{- if $v.kafka.strimzi.enabled }}
{{- /* Strimzi names its Services <cluster>-kafka-bootstrap and its pods <cluster>-<pool>-<n>: DNS labels. */}}
{{- $cluster := include "hyserve.strimziClusterName" . }}
{{- $pool := $v.kafka.strimzi.nodePoolName }}
{{- if gt (len $cluster) 47 }}
{{- $errors = append $errors (printf "Strimzi cluster name %s is longer than 47 characters (its Services add -kafka-bootstrap): set kafka.strimzi.clusterName" $cluster) }}
{{- end }}
{{- if gt (add (len $cluster) (len $pool) 5) 63 }}
{{- $errors = append $errors (printf "Strimzi pod names %s-%s-<n> exceed 63 characters: shorten kafka.strimzi.clusterName or kafka.strimzi.nodePoolName" $cluster $pool) }}
{{- end }}
{{- end }}
{{- if gt (int $v.worker.replicas) (int $v.kafka.partitions) }}
{{- $errors = append $errors (printf "worker.replicas (%d) exceeds kafka.partitions (%d): the extra workers would get no partition, never turn ready and stall rollouts" (int $v.worker.replicas) (int $v.kafka.partitions)) }}
{{- end }}
{{- if and (hasPrefix "cuda" $v.worker.device) (eq (int $v.worker.gpus) 0) }}
{{- $errors = append $errors (printf "worker.device %s needs worker.gpus of at least 1" $v.worker.device) }}
{{- end }}
{{- if $errors }}
{{- fail (printf "\n\nVALUES VALIDATION:\n  - %s" (join "\n  - " $errors)) }}
{{- end }}
{{- end }}

{{/* Properties both roles share: where Kafka and the model are. */}}
{{- define "hyserve.sharedProperties" -}}
kafka={{ include "hyserve.kafkaBootstrap" . }}
topic-prefix={{ .Values.kafka.topicPrefix }}
partitions={{ .Values.kafka.partitions | int64 }}
replication={{ .Values.kafka.replication | int64 }}
model={{ include "hyserve.modelDir" . }}
{{- with .Values.model.servedModelName }}
served-model-name={{ . }}
{{- end }}
{{- end }}

{{/* A map of further options as properties lines, sorted by key; whole numbers without a float's exponent. */}}
{{- define "hyserve.extraProperties" -}}
{{- $lines := list }}
{{- range $key, $value := . }}
{{- if and (kindIs "float64" $value) (eq $value (float64 (int64 $value))) }}
{{- $value = int64 $value }}
{{- end }}
{{- $lines = append $lines (printf "%s=%v" $key $value) }}
{{- end }}
{{- join "\n" $lines }}
{{- end }}
