#!/bin/bash
# Starts or stops a throwaway Samba server on 127.0.0.1 for the demo and the
# benchmark: private config in DIR, a free port, mandatory signing, NTLMv2
# only, a share "demo" (DIR/share) and the current user with a password full
# of the characters that break other clients' mount options. Needs root.
#   deploy/local-smbd.sh start DIR   -> DIR/port, DIR/secret/ (Secret-style
#                                       credentials), DIR/auth.txt (smbclient -A)
#   deploy/local-smbd.sh restart DIR (same port and config: a server restart)
#   deploy/local-smbd.sh stop DIR
set -euo pipefail
cmd=${1:?usage: local-smbd.sh start|stop DIR}
dir=${2:?usage: local-smbd.sh start|stop DIR}

launch() {
  setsid smbd --foreground --no-process-group --configfile="$dir/smb.conf" </dev/null >>"$dir/smbd.out" 2>&1 &
  echo $! >"$dir/smbd.pid"
  local port=$1
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "local-smbd.sh: smbd did not start; see $dir/smbd.log" >&2
  return 1
}

if [ "$cmd" = stop ] || [ "$cmd" = restart ]; then
  if [ -f "$dir/smbd.pid" ]; then
    pid=$(cat "$dir/smbd.pid")
    # smbd forks a child per connection, all in its process group.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$dir/smbd.pid"
  fi
  [ "$cmd" = restart ] && launch "$(cat "$dir/port")"
  exit 0
fi
[ "$cmd" = start ] || { echo "local-smbd.sh: unknown command $cmd (start or stop)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "local-smbd.sh: smbd needs root here (sudo)" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user=$(id -un)
password='demo, pass; \ $ = " word'
mkdir -p "$dir/share" "$dir/state" "$dir/private" "$dir/secret"
cat >"$dir/smb.conf" <<CONF
[global]
  server role = standalone server
  workgroup = DEMO
  netbios name = SMBGATEDEMO
  server signing = mandatory
  ntlm auth = ntlmv2-only
  server min protocol = SMB2_02
  server max protocol = SMB3_11
  smb ports = $port
  interfaces = 127.0.0.1
  bind interfaces only = yes
  disable netbios = yes
  restrict anonymous = 2
  map to guest = Never
  rpc start on demand helpers = no
  passdb backend = tdbsam:$dir/private/passdb.tdb
  private dir = $dir/private
  binddns dir = $dir/private
  lock directory = $dir/state
  state directory = $dir/state
  cache directory = $dir/state
  pid directory = $dir/state
  ncalrpc dir = $dir/state/ncalrpc
  log file = $dir/smbd.log
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
  # Durable handles keep their byte-range locks across a reconnect only
  # without POSIX locks (smb.conf(5), "durable handles").
  posix locking = no
[demo]
  path = $dir/share
  read only = no
CONF
printf '%s\n%s\n' "$password" "$password" | smbpasswd -c "$dir/smb.conf" -s -a "$user" >/dev/null
launch "$port"
echo "$port" >"$dir/port"
# The credentials as a Kubernetes Secret would mount them: one file per key.
printf '%s' "$user" >"$dir/secret/username"
printf '%s' "$password" >"$dir/secret/password"
printf '%s' "DEMO" >"$dir/secret/domain"
printf 'username=%s\npassword=%s\ndomain=DEMO\n' "$user" "$password" >"$dir/auth.txt"
chmod 600 "$dir/secret/"* "$dir/auth.txt"
