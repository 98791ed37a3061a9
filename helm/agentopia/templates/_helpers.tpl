{{/* split or colocated (docs/topologies.md); anything else fails the render. */}}
{{- define "agentopia.topology" -}}
{{- $topology := .Values.topology | default "split" }}
{{- if not (has $topology (list "split" "colocated")) }}
{{- fail (printf "topology must be split or colocated, got %q" $topology) }}
{{- end }}
{{- $topology }}
{{- end }}

{{/* The components, in start order; each has the same values shape. Colocated, the
     router's workload hosts the provider service: no provider workload at all. */}}
{{- define "agentopia.components" -}}
{{- if eq (include "agentopia.topology" .) "colocated" }}
["keyvault", "metrics", "router", "edge"]
{{- else }}
["keyvault", "metrics", "provider", "router", "edge"]
{{- end }}
{{- end }}

{{/* (list $ "provider") -> the component whose workload serves that service. */}}
{{- define "agentopia.hostOf" -}}
{{- $root := index . 0 }}
{{- $service := index . 1 }}
{{- if and (eq $service "provider") (eq (include "agentopia.topology" $root) "colocated") }}
{{- "router" }}
{{- else }}
{{- $service }}
{{- end }}
{{- end }}

{{/* (list $ "router") -> "true" when that component runs the provider service
     (the provider itself, or the router in the colocated topology), else "". */}}
{{- define "agentopia.runsProvider" -}}
{{- if eq (include "agentopia.hostOf" (list (index . 0) "provider")) (index . 1) }}true{{ end }}
{{- end }}

{{/* (list $ "router") -> JSON of the component's command, env and secrets, with the
     provider's env and secrets added (the component's own win on a clash) when it
     hosts the provider service. Env values are strings before the JSON round trip
     (which would print a large number in exponent form). */}}
{{- define "agentopia.settings" -}}
{{- $root := index . 0 }}
{{- $name := index . 1 }}
{{- $c := index $root.Values $name }}
{{- $env := $c.env }}
{{- $settings := dict "command" $c.command "secretEnv" $c.secretEnv "envFromSecrets" $c.envFromSecrets "secretFiles" $c.secretFiles }}
{{- if and (ne $name "provider") (include "agentopia.runsProvider" .) }}
{{- $p := $root.Values.provider }}
{{- $_ := set $settings "command" $c.colocatedCommand }}
{{- $env = merge (deepCopy $c.env) $p.env }}
{{- $seen := dict }}
{{- $secretEnv := list }}
{{- range (concat $c.secretEnv $p.secretEnv) }}
{{- if not (hasKey $seen .name) }}
{{- $_ := set $seen .name true }}
{{- $secretEnv = append $secretEnv . }}
{{- end }}
{{- end }}
{{- $_ := set $settings "secretEnv" $secretEnv }}
{{- $_ := set $settings "envFromSecrets" (concat $c.envFromSecrets $p.envFromSecrets | uniq) }}
{{- $_ := set $settings "secretFiles" (concat $c.secretFiles $p.secretFiles) }}
{{- end }}
{{- $strings := dict }}
{{- range $key, $value := $env }}
{{- $_ := set $strings $key (toString $value) }}
{{- end }}
{{- $_ := set $settings "env" $strings }}
{{- toJson $settings }}
{{- end }}

{{- define "agentopia.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "agentopia.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "agentopia.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "agentopia.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* (list $ "router") -> agentopia-router */}}
{{- define "agentopia.componentName" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "agentopia.fullname" $root | trunc 45 | trimSuffix "-") (index . 1) }}
{{- end }}

{{/* In-cluster DNS name of a component's ClusterIP Service. */}}
{{- define "agentopia.serviceHost" -}}
{{- $root := index . 0 }}
{{- printf "%s.%s.svc.cluster.local" (include "agentopia.componentName" .) $root.Release.Namespace }}
{{- end }}

{{/* The headless Service: Envoy resolves it to every ready pod and balances per stream. */}}
{{- define "agentopia.headlessHost" -}}
{{- $root := index . 0 }}
{{- printf "%s-headless.%s.svc.cluster.local" (include "agentopia.componentName" .) $root.Release.Namespace }}
{{- end }}

{{- define "agentopia.selectorLabels" -}}
app.kubernetes.io/name: {{ include "agentopia.name" (index . 0) }}
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "agentopia.labels" -}}
{{ include "agentopia.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" (index . 0).Chart.Name (index . 0).Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ (index . 0).Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ (index . 0).Release.Service }}
app.kubernetes.io/part-of: agentopia
{{- end }}

{{- /* (list $ NAME): images.NAME when set (a full reference), else REGISTRY/NAME:TAG
       with image.registry (one image per service), else image.repository; image.digest
       pins the latter two. */}}
{{- define "agentopia.image" -}}
{{- $root := index . 0 }}
{{- $image := $root.Values.image }}
{{- with index ($root.Values.images | default dict) (index $ 1) }}
{{- . }}
{{- else }}
{{- $repository := $image.repository }}
{{- with $image.registry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" .) (index $ 1) }}
{{- end }}
{{- if $image.digest }}
{{- printf "%s@%s" $repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default $root.Chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}
{{- end }}

{{- /* The limits store's URL as an env entry's value part, "" when none is set. */}}
{{- define "agentopia.limitsRedisEnv" -}}
{{- $redis := .Values.limits.redis }}
{{- if $redis.url }}
value: {{ $redis.url | quote }}
{{- else if $redis.urlSecret.name }}
valueFrom:
  secretKeyRef: {name: {{ $redis.urlSecret.name }}, key: {{ $redis.urlSecret.key }}}
{{- else if $redis.deploy }}
value: {{ printf "redis://%s-limits-redis.%s.svc.cluster.local:6379/0" (include "agentopia.fullname" .) .Release.Namespace | quote }}
{{- end }}
{{- end }}

{{- define "agentopia.serviceAccountName" -}}
{{- $c := index (index . 0).Values (index . 1) }}
{{- default (include "agentopia.componentName" .) $c.serviceAccount.name }}
{{- end }}

{{/* The edge's Envoy bootstrap, rendered for this release (files/ are generated by
     `python -m gateway.helm_template`). */}}
{{- define "agentopia.envoyConfig" -}}
{{- if .Values.otel.enabled }}
{{- tpl (.Files.Get "files/envoy-otel.yaml") . }}
{{- else }}
{{- tpl (.Files.Get "files/envoy.yaml") . }}
{{- end }}
{{- end }}

{{/* Settings every component gets: its listen address, peers, telemetry. */}}
{{- define "agentopia.env" -}}
{{- $root := index . 0 }}
{{- $name := index . 1 }}
{{- $c := index $root.Values $name }}
{{- $settings := include "agentopia.settings" . | fromJson -}}
- name: POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
- name: POD_NAMESPACE
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
- name: AGENTOPIA_DATA_DIR
  value: /tmp/agentopia
- name: AGENTOPIA_LOG_LEVEL
  value: {{ $root.Values.logLevel | quote }}
{{- range $peer := list "router" "provider" "keyvault" "metrics" }}
{{- $host := include "agentopia.hostOf" (list $root $peer) }}
- name: AGENTOPIA_{{ upper $peer }}_TARGET
  value: {{ printf "%s:%v" (include "agentopia.serviceHost" (list $root $host)) (index $root.Values $host).grpcPort | quote }}
{{- end }}
{{- if eq $name "edge" }}
- name: AGENTOPIA_EDGE_CONCURRENCY
  value: {{ $c.envoy.concurrency | quote }}
- name: AGENTOPIA_EDGE_DRAIN_SECONDS
  value: {{ $c.envoy.drainSeconds | quote }}
- name: AGENTOPIA_EDGE_CONFIG_PATH
  value: /tmp/envoy/envoy.yaml
{{- else }}
- name: AGENTOPIA_{{ upper $name }}_LISTEN
  value: {{ printf "0.0.0.0:%v" $c.grpcPort | quote }}
- name: AGENTOPIA_PROMETHEUS_PORT
  value: {{ $c.metricsPort | quote }}
- name: AGENTOPIA_PROMETHEUS_ADDR
  value: "0.0.0.0"
{{- end }}
{{- if and $root.Values.demo.enabled (has $name (list "router" "provider")) }}
- name: AGENTOPIA_DEMO
  value: "true"
{{- end }}
{{- if $root.Values.otel.enabled }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ printf "http://%s:%v" $root.Values.otel.host $root.Values.otel.port | quote }}
- name: OTEL_SERVICE_NAME
  value: agentopia-{{ $name }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: "k8s.pod.name=$(POD_NAME),k8s.namespace.name=$(POD_NAMESPACE)"
{{- end }}
{{- range $key, $value := $settings.env }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- range $settings.secretEnv }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}
{{- if ne $name "edge" }}
{{- $identity := ternary "colocated" $name (and (eq $name "router") (include "agentopia.runsProvider" (list $root $name) | eq "true")) }}
- name: AGENTOPIA_IDENTITY_NAME
  value: {{ $identity }}
- name: AGENTOPIA_IDENTITY_REQUIRED
  value: {{ $root.Values.identity.required | quote }}
- name: AGENTOPIA_IDENTITY_TOKEN
  valueFrom:
    secretKeyRef: {name: {{ $root.Values.identity.secretName }}, key: {{ $identity }}}
- name: AGENTOPIA_IDENTITY_PEERS
  valueFrom:
    secretKeyRef: {name: {{ $root.Values.identity.secretName }}, key: peers}
{{- end }}
{{- if has $name (list "router" "keyvault") }}
{{- with include "agentopia.limitsRedisEnv" $root }}
- name: AGENTOPIA_LIMITS_REDIS_URL
  {{- . | nindent 2 }}
- name: AGENTOPIA_LIMITS_PREFIX
  value: {{ $root.Values.limits.redis.prefix | quote }}
{{- end }}
{{- end }}
{{- with $root.Values.serviceToken }}
{{- if and .existingSecret (or (eq $name "keyvault") (include "agentopia.runsProvider" (list $root $name))) }}
- name: AGENTOPIA_KEYVAULT_SERVICE_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .key | default "token" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "agentopia.probe" -}}
{{- $c := index . 0 }}
{{- $timing := index . 1 -}}
{{- if $c.probes.grpc }}
grpc:
  port: {{ $c.grpcPort }}
{{- else }}
httpGet:
  path: {{ $c.probes.httpPath }}
  port: serve
{{- end }}
periodSeconds: {{ $timing.periodSeconds }}
failureThreshold: {{ $timing.failureThreshold }}
timeoutSeconds: {{ default 2 $timing.timeoutSeconds }}
{{- end }}

{{- /* (list $ NAME): the Cloud SQL Auth Proxy as a native sidecar (an init container
       that keeps running: it starts before the service and stops after it), for the
       components that own a database, when cloudSqlProxy.enabled. */}}
{{- define "agentopia.cloudSqlProxy" -}}
{{- $root := index . 0 }}
{{- $proxy := $root.Values.cloudSqlProxy }}
{{- if and $proxy.enabled (has (index . 1) (list "keyvault" "metrics")) }}
{{- if not $proxy.instance }}
{{- fail "cloudSqlProxy.enabled needs cloudSqlProxy.instance (PROJECT:REGION:INSTANCE)" }}
{{- end }}
- name: cloud-sql-proxy
  image: {{ $proxy.image | quote }}
  restartPolicy: Always
  args:
    - --auto-iam-authn
    - --structured-logs
    - --port={{ $proxy.port }}
    - --health-check
    - --http-address=0.0.0.0
    {{- if $proxy.privateIp }}
    - --private-ip
    {{- end }}
    - {{ $proxy.instance | quote }}
  startupProbe:
    httpGet: {path: /startup, port: 9090}
    periodSeconds: 1
    failureThreshold: 60
  livenessProbe:
    httpGet: {path: /liveness, port: 9090}
    periodSeconds: 10
  resources:
    {{- toYaml $proxy.resources | nindent 4 }}
  securityContext:
    {{- toYaml $root.Values.securityContext | nindent 4 }}
{{- end }}
{{- end }}

