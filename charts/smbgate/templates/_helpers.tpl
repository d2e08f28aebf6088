{{/*
Names and labels.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "smbgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* RELEASE-NAME, truncated to 63 characters (DNS names); fullnameOverride wins. */}}
{{- define "smbgate.fullname" -}}
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

{{- define "smbgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels selectors use: never change them on an installed release. */}}
{{- define "smbgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "smbgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The standard labels. Input: (dict "ctx" $ "component" "workload").
*/}}
{{- define "smbgate.labels" -}}
helm.sh/chart: {{ include "smbgate.chart" .ctx }}
{{ include "smbgate.selectorLabels" .ctx }}
app.kubernetes.io/version: {{ .ctx.Values.image.tag | default .ctx.Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: {{ .ctx.Values.partOf }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end }}

{{/*
The CSI node driver's selector labels: another app.kubernetes.io/name than the workload's, so
the workload's selector, Service, NetworkPolicy and PodMonitor never select the driver's pods.
*/}}
{{- define "smbgate.csiSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-csi-node" (include "smbgate.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The standard labels of the CSIDriver, the DaemonSet and its pods. */}}
{{- define "smbgate.csiLabels" -}}
helm.sh/chart: {{ include "smbgate.chart" . }}
{{ include "smbgate.csiSelectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/component: csi-node
app.kubernetes.io/part-of: {{ .Values.partOf }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The credentials Secret's name in this chart. */}}
{{- define "smbgate.secretName" -}}
{{- if and .Values.credentials.create .Values.credentials.existingSecret }}
{{- fail "credentials: set either existingSecret or create: true, not both" }}
{{- end }}
{{- .Values.credentials.existingSecret | default (printf "%s-credentials" (include "smbgate.fullname" .)) }}
{{- end }}

{{/* An image reference. Input: an image object (repository, tag, digest). */}}
{{- define "smbgate.image" -}}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository (required "image.tag is required" .tag | toString) }}
{{- end }}
{{- end }}

{{/*
The `-o` list of `smbgate mount`. Input: (dict "values" V), V shaped as this chart's values.
*/}}
{{- define "smbgate.mountOptions" -}}
{{- $v := .values }}
{{- $m := $v.mountOptions }}
{{- $o := list "allow_other" (printf "uid=%d" (int $v.app.uid)) (printf "gid=%d" (int $v.app.gid)) }}
{{- $o = append $o (printf "file_mode=%s" $m.fileMode) }}
{{- $o = append $o (printf "dir_mode=%s" $m.dirMode) }}
{{- if $m.readOnly }}{{ $o = append $o "ro" }}{{ end }}
{{- if ne (toString $m.vers) "default" }}{{ $o = append $o (printf "vers=%s" (toString $m.vers)) }}{{ end }}
{{- $o = append $o (printf "cache=%s" $m.cache) }}
{{- $o = append $o (printf "actimeo=%v" $m.actimeo) }}
{{- $o = append $o (printf "closetimeo=%v" $m.closetimeo) }}
{{- if gt (int64 $m.rsize) 0 }}{{ $o = append $o (printf "rsize=%d" (int64 $m.rsize)) }}{{ end }}
{{- if gt (int64 $m.wsize) 0 }}{{ $o = append $o (printf "wsize=%d" (int64 $m.wsize)) }}{{ end }}
{{- if $m.seal }}{{ $o = append $o "seal" }}{{ end }}
{{- if $m.spn }}{{ $o = append $o (printf "spn=%s" $m.spn) }}{{ end }}
{{- range $m.extra }}
{{- $name := lower (regexReplaceAll "=.*$" (toString .) "") }}
{{- if contains "," (toString .) }}
{{- fail (printf "mountOptions.extra: %q holds a comma; give one option per item" (toString .)) }}
{{- end }}
{{- if has $name (list "pass" "passwd" "password" "password2") }}
{{- fail "mountOptions.extra: a password is never a mount option; put it in the credentials Secret" }}
{{- end }}
{{- if has $name (list "uid" "gid" "allow_other" "metrics" "credentials" "cred" "file_mode" "dir_mode" "ro" "rw" "vers" "cache" "actimeo" "closetimeo" "rsize" "wsize" "seal" "spn" "log_level" "log_format") }}
{{- fail (printf "mountOptions.extra: %s is set by the chart; use app.uid/app.gid, metrics.port, credentials, mountOptions or logging instead" $name) }}
{{- end }}
{{- $o = append $o (toString .) }}
{{- end }}
{{- $o = append $o (printf "log_level=%s" $v.logging.level) }}
{{- $o = append $o (printf "log_format=%s" $v.logging.format) }}
{{- $o = append $o (printf "metrics=0.0.0.0:%d" (int $v.metrics.port)) }}
{{- join "," $o }}
{{- end }}

{{/*
Checks that a :PORT in server.share matches server.port. Input: (dict "values" V).
*/}}
{{- define "smbgate.checkServer" -}}
{{- $share := toString .values.server.share }}
{{- if not (regexMatch "^//[^/]+/[^/]+" $share) }}
{{- fail (printf "server.share: %q is not //HOST[:PORT]/SHARE[/SUBDIR]" $share) }}
{{- end }}
{{- $hostport := regexReplaceAll "^//([^/]+)/.*$" $share "${1}" }}
{{- if regexMatch "(^[^:\\[]+|\\])(:[0-9]+)$" $hostport }}
{{- $port := regexReplaceAll "^.*:([0-9]+)$" $hostport "${1}" }}
{{- if ne (int $port) (int .values.server.port) }}
{{- fail (printf "server.share names port %s but server.port is %d; set server.port: %s (the NetworkPolicy uses it)" $port (int .values.server.port) $port) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
mode: csi. The uid and gid of the unprivileged sidecar, which are also the volume attributes
uid and gid: the driver makes the FUSE mount's user_id/group_id and the handoff socket's owner
from them, so the sidecar can connect and serve the mount. One definition so they never drift.
*/}}
{{- define "smbgate.csiSidecarId" -}}65534{{- end }}

{{/* mode: csi. Where the sidecar mounts the socket emptyDir. */}}
{{- define "smbgate.csiSocketDir" -}}/smbgate-fuse{{- end }}

{{/*
smbgate.sidecar: the smbgate container, for a pod's initContainers list (a native sidecar:
restartPolicy Always). Input, a dict:
  values                 required; shaped like this chart's values (mode, image, server,
                         mountOptions, logging, metrics, sidecar, fdPassing, app.uid, app.gid,
                         app.mountPath). From a chart that depends on smbgate: .Values.smbgate.
  name                   container name (default "smbgate")
  volumeName             the share volume (default "smbgate-share")
  credentialsVolumeName  the credentials volume (default "smbgate-credentials")
  socketVolumeName       mode csi: the emptyDir of the driver's socket (default "smbgate-fuse")
Renders one list item, unindented: use `| nindent N`.
*/}}
{{- define "smbgate.sidecar" -}}
{{- $v := .values }}
{{- $name := .name | default "smbgate" }}
{{- $vol := .volumeName | default "smbgate-share" }}
{{- $credVol := .credentialsVolumeName | default "smbgate-credentials" }}
{{- $sockVol := .socketVolumeName | default "smbgate-fuse" }}
{{- $csi := eq $v.mode "csi" }}
{{- /* $fd: smbgate serves a /dev/fuse descriptor that smbgate-fuse-fd received (fdpassing, csi). */}}
{{- $fd := or (eq $v.mode "fdpassing") $csi }}
{{- $_ := include "smbgate.checkServer" (dict "values" $v) -}}
- name: {{ $name }}
  image: {{ include "smbgate.image" $v.image | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  # A native sidecar: started before the application, kept running, stopped after it.
  restartPolicy: Always
  {{- if $fd }}
  {{- if $csi }}
  # Receives the /dev/fuse descriptor from the CSI node driver, which mounted it on
  # the csi volume and listens on VOLUME.sock in the socket emptyDir; then runs
  # smbgate on /dev/fd/3.
  {{- else }}
  # Receives the /dev/fuse descriptor from the node helper, then runs smbgate on /dev/fd/3.
  {{- end }}
  command:
    - smbgate-fuse-fd
    - --socket
    {{- if $csi }}
    - {{ printf "%s/%s.sock" (include "smbgate.csiSocketDir" .) $vol | quote }}
    {{- else }}
    - {{ printf "%s/%s" $v.fdPassing.socketDir $v.fdPassing.socketName | quote }}
    {{- end }}
    - --volume
    - {{ $vol | quote }}
    - --fd
    - "3"
    - --timeout
    {{- if $csi }}
    - {{ $v.csi.handoffTimeoutSeconds | int | quote }}
    {{- else }}
    - {{ $v.fdPassing.connectTimeoutSeconds | int | quote }}
    {{- end }}
    {{- if $v.mountOptions.readOnly }}
    - --ro
    {{- end }}
    - --
    - smbgate
  {{- end }}
  args:
    - mount
    - {{ $v.server.share | quote }}
    - {{ ternary "/dev/fd/3" $v.app.mountPath $fd | quote }}
    - --credentials
    - /etc/smbgate/credentials
    - --foreground
    - -o
    - {{ include "smbgate.mountOptions" (dict "values" $v) | quote }}
  ports:
    - name: metrics
      containerPort: {{ $v.metrics.port | int }}
      protocol: TCP
  startupProbe:
    httpGet:
      path: /readyz
      port: metrics
    periodSeconds: {{ $v.sidecar.startupProbe.periodSeconds | int }}
    timeoutSeconds: {{ $v.sidecar.startupProbe.timeoutSeconds | int }}
    failureThreshold: {{ $v.sidecar.startupProbe.failureThreshold | int }}
  {{- if $v.sidecar.livenessProbe.enabled }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: metrics
    periodSeconds: {{ $v.sidecar.livenessProbe.periodSeconds | int }}
    timeoutSeconds: {{ $v.sidecar.livenessProbe.timeoutSeconds | int }}
    failureThreshold: {{ $v.sidecar.livenessProbe.failureThreshold | int }}
  {{- end }}
  {{- if $v.sidecar.readinessProbe.enabled }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: metrics
    periodSeconds: {{ $v.sidecar.readinessProbe.periodSeconds | int }}
    timeoutSeconds: {{ $v.sidecar.readinessProbe.timeoutSeconds | int }}
    failureThreshold: {{ $v.sidecar.readinessProbe.failureThreshold | int }}
  {{- end }}
  {{- with $v.sidecar.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- if $fd }}
    # No privilege: the node {{ ternary "driver" "helper" $csi }} did the mount.
    {{- $id := ternary (include "smbgate.csiSidecarId" . | int) 65532 $csi }}
    runAsUser: {{ $id }}
    runAsGroup: {{ $id }}
    runAsNonRoot: true
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities:
      drop:
        - ALL
    seccompProfile:
      type: RuntimeDefault
    {{- else }}
    # Mounting FUSE and Bidirectional mount propagation need a privileged container (root).
    privileged: true
    runAsUser: 0
    runAsGroup: 0
    runAsNonRoot: false
    readOnlyRootFilesystem: true
    {{- end }}
  volumeMounts:
    {{- if not $fd }}
    # The mount propagates to the host side of the emptyDir and from there to the application.
    - name: {{ $vol }}
      mountPath: {{ $v.app.mountPath | quote }}
      mountPropagation: Bidirectional
    {{- end }}
    # A directory, never subPath: the kubelet's rotation (the ..data swap) must reach smbgate.
    - name: {{ $credVol }}
      mountPath: /etc/smbgate/credentials
      readOnly: true
    {{- if $csi }}
    # The driver's socket. Read-only is enough to connect to a unix socket,
    # and the sidecar cannot put anything there.
    - name: {{ $sockVol }}
      mountPath: {{ include "smbgate.csiSocketDir" . | quote }}
      readOnly: true
    {{- else if $fd }}
    - name: {{ $vol }}-helper
      mountPath: {{ $v.fdPassing.socketDir | quote }}
      readOnly: true
    {{- end }}
{{- end }}

{{/*
smbgate.volumes: the pod volumes smbgate.sidecar and smbgate.appVolumeMount use. Input, a dict:
  values                 required, as for smbgate.sidecar (credentials.existingSecret names
                         the Secret unless secretName is given)
  secretName             the credentials Secret (default values.credentials.existingSecret)
  volumeName, credentialsVolumeName, socketVolumeName  as for smbgate.sidecar
Renders list items, unindented: use `| nindent N` under `volumes:`.
*/}}
{{- define "smbgate.volumes" -}}
{{- $v := .values }}
{{- $vol := .volumeName | default "smbgate-share" }}
{{- $credVol := .credentialsVolumeName | default "smbgate-credentials" }}
{{- $sockVol := .socketVolumeName | default "smbgate-fuse" }}
{{- $secret := .secretName | default $v.credentials.existingSecret | required "smbgate: credentials.existingSecret (the name of the credentials Secret) is required" -}}
{{- if eq $v.mode "csi" -}}
# The share: an inline CSI volume. Before the containers start, the smbgate CSI
# node driver mounts /dev/fuse here and listens on {{ $vol }}.sock in the
# emptyDir socketVolume for the sidecar, which takes the descriptor and serves it.
- name: {{ $vol }}
  csi:
    driver: {{ $v.csi.driverName | quote }}
    readOnly: {{ $v.mountOptions.readOnly }}
    volumeAttributes:
      socketVolume: {{ $sockVol | quote }}
      # The sidecar's uid and gid: the mount's user_id/group_id, the socket's owner.
      uid: {{ include "smbgate.csiSidecarId" . | quote }}
      gid: {{ include "smbgate.csiSidecarId" . | quote }}
- name: {{ $sockVol }}
  emptyDir: {}
{{- else -}}
# The share: smbgate mounts it here, the application sees it.
- name: {{ $vol }}
  emptyDir: {}
{{- end }}
- name: {{ $credVol }}
  secret:
    secretName: {{ $secret | quote }}
    defaultMode: {{ $v.credentials.defaultMode | int }}
{{- if eq $v.mode "fdpassing" }}
# The node helper's socket (a DaemonSet that you run; see the chart README).
- name: {{ $vol }}-helper
  hostPath:
    path: {{ $v.fdPassing.socketDir | quote }}
    type: Directory
{{- end }}
{{- end }}

{{/*
smbgate.appVolumeMount: the application container's volumeMounts item for the share. Input:
(dict "values" V "volumeName" N), volumeName defaulting to "smbgate-share". HostToContainer:
the mount smbgate makes after the container started (again after a restart) reaches it.
In mode csi the driver mounts before the containers start, so None would do as well; the
same HostToContainer is kept because it asks for no privilege (Pod Security "restricted"
allows it) and any later mount the driver makes at the volume's path still reaches the
application.
*/}}
{{- define "smbgate.appVolumeMount" -}}
- name: {{ .volumeName | default "smbgate-share" }}
  mountPath: {{ .values.app.mountPath | quote }}
  mountPropagation: HostToContainer
{{- end }}
