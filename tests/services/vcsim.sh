#!/usr/bin/env bash
# Copyright: esxi.customizer contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The govmomi vSphere simulator for the datastore_upload tests: a standalone ESXi host
# (ha-datacenter/LocalDS_0) and a vCenter (DC0/LocalDS_0) on 127.0.0.1, both over TLS with a self-signed
# certificate. Ports: $VCSIM_ESX_PORT / $VCSIM_VPX_PORT, else free ones chosen at start (so that two copies of
# the tests can run at once); the tests read them from the state files.
#
# Usage: vcsim.sh start|stop|status
#
# start builds tests/vcsim/main.go offline against Debian's golang-github-vmware-govmomi-dev
# (GOPATH mode; the binary is cached by a hash of the sources, so a second start costs nothing),
# starts whichever simulator is not already answering and waits until both answer.
# State lives in $VCSIM_STATE_DIR (default /tmp/esxi-customizer-vcsim; make sets one per checkout), which the tests read:
#   <variant>.json  url, hostname, port, username, password, ca, datacenter, datastores{name: dir}
#   <variant>.pem   the server certificate (usable as a CA bundle)
#   <variant>.pid, <variant>.log
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
src=$root/tests/vcsim/main.go
state_dir=${VCSIM_STATE_DIR:-/tmp/esxi-customizer-vcsim}
cache_dir=${XDG_CACHE_HOME:-$HOME/.cache}/esxi-customizer/vcsim
govmomi=/usr/share/gocode/src/github.com/vmware/govmomi
variants=(esx vpx)
username=root
password=vcsim-pass

die() {
    echo "vcsim.sh: $*" >&2
    exit 1
}

build() {
    command -v go >/dev/null || die "go not found: install golang-go (scripts/install-system-deps.sh)"
    [ -d "$govmomi/simulator" ] || die "$govmomi/simulator missing: install golang-github-vmware-govmomi-dev"
    local hash
    hash=$({
        cat "$src"
        go version
        dpkg-query -W -f='${Version}' golang-github-vmware-govmomi-dev 2>/dev/null || true
    } | sha256sum | cut -c1-16)
    binary=$cache_dir/vcsim-$hash
    if [ -x "$binary" ]; then
        return
    fi
    mkdir -p "$cache_dir/gopath" "$cache_dir/gocache"
    echo "vcsim.sh: building the simulator (about 15 s)"
    # GOPATH mode, offline: the Debian package sits in /usr/share/gocode; our own writable
    # GOPATH entry comes first so nothing is ever written below /usr/share.
    (cd "$root/tests/vcsim" &&
        GO111MODULE=off GOFLAGS='' GOPROXY=off \
            GOPATH="$cache_dir/gopath:/usr/share/gocode" GOCACHE="$cache_dir/gocache" \
            go build -o "$binary.tmp" main.go)
    mv "$binary.tmp" "$binary"
}

# True when the pid file names a live simulator process of ours.
running() {
    local pidfile=$state_dir/$1.pid pid
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "-state $state_dir/$1.json"
}

answering() {
    curl -sk -o /dev/null --max-time 2 "https://127.0.0.1:$1/about"
}

# The port a running simulator of this state dir listens on (from its state file), or nothing.
state_port() {
    [ -s "$state_dir/$1.json" ] && sed -n 's/^ *"port": *\([0-9]*\).*/\1/p' "$state_dir/$1.json"
}

# The port to start on: the one asked for, else a free one the kernel hands out.
wanted_port() {
    local asked
    asked=$(printenv "VCSIM_$(echo "$1" | tr '[:lower:]' '[:upper:]')_PORT" || true)
    if [ -n "$asked" ]; then
        echo "$asked"
    else
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    fi
}

start_one() {
    local name=$1 port
    port=$(state_port "$name" || true)
    if running "$name" && [ -n "$port" ] && answering "$port"; then
        return
    fi
    stop_one "$name"
    port=$(wanted_port "$name")
    if answering "$port"; then
        die "port $port is already used by another process; cannot start the $name simulator"
    fi
    mkdir -p "$state_dir/$name-data"
    rm -f "$state_dir/$name.json"
    # The simulator creates its datastore directories below TMPDIR and removes them on SIGTERM.
    TMPDIR=$state_dir/$name-data setsid "$binary" -mode "$name" -listen "127.0.0.1:$port" \
        -username "$username" -password "$password" \
        -state "$state_dir/$name.json" -ca "$state_dir/$name.pem" \
        </dev/null >"$state_dir/$name.log" 2>&1 &
    local child=$! _
    for _ in $(seq 1 100); do
        if [ -s "$state_dir/$name.json" ] && answering "$port"; then
            # the simulator's own pid, in case setsid forked
            sed -n 's/^ *"pid": *\([0-9]*\).*/\1/p' "$state_dir/$name.json" >"$state_dir/$name.pid"
            echo "vcsim.sh: $name simulator on https://127.0.0.1:$port (state in $state_dir/$name.json)"
            return
        fi
        kill -0 "$child" 2>/dev/null || [ -s "$state_dir/$name.json" ] || break
        sleep 0.1
    done
    cat "$state_dir/$name.log" >&2 || true
    die "the $name simulator did not start"
}

stop_one() {
    local name=$1 pid _
    if running "$name"; then
        pid=$(cat "$state_dir/$name.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            [ -d "/proc/$pid" ] || break
            sleep 0.1
        done
        if [ -d "/proc/$pid" ]; then
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -rf "${state_dir:?}/$name.pid" "${state_dir:?}/$name.json" "${state_dir:?}/$name-data"
}

case ${1:-} in
start)
    mkdir -p "$state_dir"
    build
    for v in "${variants[@]}"; do
        start_one "$v"
    done
    ;;
stop)
    for v in "${variants[@]}"; do
        stop_one "$v"
    done
    ;;
status)
    rc=0
    for v in "${variants[@]}"; do
        port=$(state_port "$v" || true)
        if running "$v" && [ -n "$port" ] && answering "$port"; then
            echo "$v: running on 127.0.0.1:$port"
        else
            echo "$v: stopped"
            rc=3
        fi
    done
    exit $rc
    ;;
*)
    die "usage: vcsim.sh start|stop|status"
    ;;
esac
