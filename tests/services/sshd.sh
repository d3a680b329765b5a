#!/usr/bin/env bash
# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# A real OpenSSH server on 127.0.0.1 for the remote PXE publication tests: the role publishes the tree on a
# "PXE server" over Ansible's own ssh connection, and this is that server. It runs as the current user with its
# own host key, client key and config (nothing of the machine's ssh setup is used or changed).
# Port: $SSHD_PORT, else a free one chosen at start.
#
# Usage: sshd.sh start|stop|status
#
# State lives in $VCSIM_STATE_DIR/sshd (the one state directory of the test services; make sets one per checkout):
#   sshd.json    hostname, port, user, key (client private key), known_hosts
#   sshd.pid, sshd.log
set -euo pipefail

state_dir=${VCSIM_STATE_DIR:-/tmp/esxi-customizer-vcsim}/sshd
sshd=/usr/sbin/sshd

die() {
    echo "sshd.sh: $*" >&2
    exit 1
}

running() {
    local pid
    [ -f "$state_dir/sshd.pid" ] || return 1
    pid=$(cat "$state_dir/sshd.pid")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$state_dir/sshd_config"
}

state_port() {
    [ -s "$state_dir/sshd.json" ] && sed -n 's/^ *"port": *\([0-9]*\).*/\1/p' "$state_dir/sshd.json"
}

answering() {  # answering PORT: a login with our key runs a command
    ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=2 -o UserKnownHostsFile="$state_dir/known_hosts" \
        -o StrictHostKeyChecking=yes -i "$state_dir/client_key" -p "$1" "$(id -un)@127.0.0.1" true 2>/dev/null
}

start() {
    [ -x "$sshd" ] || die "$sshd not found: install openssh-server (scripts/install-system-deps.sh)"
    local port
    port=$(state_port || true)
    if running && [ -n "$port" ] && answering "$port"; then
        return
    fi
    stop
    mkdir -p "$state_dir"
    chmod 700 "$state_dir"
    ssh-keygen -q -t ed25519 -N '' -f "$state_dir/host_key" -C esxi-customizer-test-host
    ssh-keygen -q -t ed25519 -N '' -f "$state_dir/client_key" -C esxi-customizer-test-client
    cp "$state_dir/client_key.pub" "$state_dir/authorized_keys"
    port=${SSHD_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    echo "[127.0.0.1]:$port $(cut -d' ' -f1-2 "$state_dir/host_key.pub")" >"$state_dir/known_hosts"
    cat >"$state_dir/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $state_dir/host_key
AuthorizedKeysFile $state_dir/authorized_keys
PidFile $state_dir/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowUsers $(id -un)
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
EOF
    # sshd running as root wants its privilege separation directory
    if [ "$(id -u)" = 0 ]; then
        mkdir -p /run/sshd
        chmod 755 /run/sshd
    fi
    "$sshd" -f "$state_dir/sshd_config" -E "$state_dir/sshd.log" || { cat "$state_dir/sshd.log" >&2; die "sshd did not start"; }
    local _
    for _ in $(seq 1 50); do
        if answering "$port"; then
            cat >"$state_dir/sshd.json" <<EOF
{
  "hostname": "127.0.0.1",
  "port": $port,
  "user": "$(id -un)",
  "key": "$state_dir/client_key",
  "known_hosts": "$state_dir/known_hosts"
}
EOF
            echo "sshd.sh: sshd on 127.0.0.1:$port (state in $state_dir/sshd.json)"
            return
        fi
        sleep 0.1
    done
    cat "$state_dir/sshd.log" >&2 || true
    die "sshd does not accept our key on port $port"
}

stop() {
    local pid _
    if running; then
        pid=$(cat "$state_dir/sshd.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            [ -d "/proc/$pid" ] || break
            sleep 0.1
        done
    fi
    rm -rf "${state_dir:?}"
}

case ${1:-} in
start) start ;;
stop) stop ;;
status)
    port=$(state_port || true)
    if running && [ -n "$port" ] && answering "$port"; then
        echo "sshd: running on 127.0.0.1:$port"
    else
        echo "sshd: stopped"
        exit 3
    fi
    ;;
*) die "usage: sshd.sh start|stop|status" ;;
esac
