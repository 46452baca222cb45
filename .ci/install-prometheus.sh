#!/bin/sh
# Install Debian's prometheus package (prometheus + promtool) for the traffic tests and bench.
#
# Idempotent: does nothing when promtool is already on PATH. The package's postinst tries to
# start a system daemon on :9090; the tests start their own Prometheus on a free 127.0.0.1 port,
# so we block that start with a temporary policy-rc.d and stop any daemon that appeared anyway
# (by PID, only processes that were not running before the install).
set -eu

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
    echo "install-prometheus: $(command -v promtool) already present, nothing to do"
    exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
    SUDO="sudo"
fi

before="$(pgrep -x prometheus || true)"

# policy-rc.d exit 101 = "action forbidden": invoke-rc.d then skips starting the service.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    made_policy=1
fi
cleanup() {
    if [ "$made_policy" = "1" ]; then
        $SUDO rm -f "$policy"
    fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
# --no-install-recommends: skips prometheus-node-exporter, another daemon we do not need.
if ! $SUDO apt-get install -y --no-install-recommends prometheus; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends prometheus
fi

# Stop whatever daemon the install started despite policy-rc.d (e.g. no invoke-rc.d in a
# container); leave pre-existing prometheus processes alone.
after="$(pgrep -x prometheus || true)"
for pid in $after; do
    case " $(echo $before) " in
        *" $pid "*) ;;
        *) echo "install-prometheus: stopping daemon started by the package (pid $pid)"
           $SUDO kill "$pid" || true ;;
    esac
done

command -v promtool >/dev/null
command -v prometheus >/dev/null
echo "install-prometheus: $(prometheus --version 2>&1 | head -n 1)"
