#!/usr/bin/env bash
# Installs vcbridge as a systemd service (idempotent: run it again to upgrade; the operator's settings are kept).
#
#   Scripts/install.sh [--binary FILE] [--destdir DIR] [--user NAME]      install or upgrade
#   Scripts/install.sh --uninstall [--purge] [--destdir DIR]              remove the program and the unit
#                                                                          (--purge: the settings, data and user too)
#
# Puts the release binary in /usr/local/bin, creates the `vcbridge` system user, /etc/vcbridge/vcbridge.json (only the
# keys an operator changes; every other key keeps the compiled-in default), /var/lib/vcbridge (owner-only) and
# /etc/systemd/system/vcbridge.service, then enables and (re)starts the service when systemd runs.
#   --binary FILE  install this vcbridge instead of building one (swift build -c release --static-swift-stdlib)
#   --destdir DIR  stage everything under DIR (packaging, tests): no user is created, systemd is not touched
#   --user NAME    the account the service runs as (default vcbridge; created when missing and no --destdir)
set -euo pipefail
cd "$(dirname "$0")/.."

destdir=""
binary=""
user="vcbridge"
uninstall=0
purge=0
while [ $# -gt 0 ]; do
    case "$1" in
        --destdir) destdir="${2:?--destdir needs a directory}"; shift 2 ;;
        --binary) binary="${2:?--binary needs a file}"; shift 2 ;;
        --user) user="${2:?--user needs a name}"; shift 2 ;;
        --uninstall) uninstall=1; shift ;;
        --purge) purge=1; shift ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
done
if [ "$purge" = 1 ] && [ "$uninstall" = 0 ]; then
    echo "install.sh: --purge goes with --uninstall" >&2
    exit 64
fi
if [ -n "$destdir" ]; then
    case "$destdir" in /*) ;; *) destdir="$PWD/$destdir" ;; esac
    destdir="${destdir%/}"
fi

bin_dir="$destdir/usr/local/bin"
conf_dir="$destdir/etc/vcbridge"
data_dir="$destdir/var/lib/vcbridge"
unit_dir="$destdir/etc/systemd/system"
unit="$unit_dir/vcbridge.service"
# systemd is driven only for a real installation on a machine where it runs.
systemd_live=0
if [ -z "$destdir" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then systemd_live=1; fi

say() { echo "install.sh: $*"; }

if [ "$uninstall" = 1 ]; then
    if [ "$systemd_live" = 1 ] && [ -f "$unit" ]; then
        systemctl disable --now vcbridge.service >/dev/null 2>&1 || true
    fi
    rm -f "$unit" "$bin_dir/vcbridge"
    [ "$systemd_live" = 1 ] && systemctl daemon-reload
    say "removed $bin_dir/vcbridge and $unit"
    if [ "$purge" = 1 ]; then
        rm -rf "$conf_dir" "$data_dir"
        if [ -z "$destdir" ] && [ "$user" = vcbridge ] && getent passwd vcbridge >/dev/null; then
            userdel vcbridge 2>/dev/null || true
        fi
        say "purged $conf_dir and $data_dir (bookings, keys, history)"
    else
        say "kept $conf_dir and $data_dir (bookings, keys); --uninstall --purge removes them"
    fi
    exit 0
fi

if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
    say "installing into /usr/local, /etc and /var/lib needs root (or --destdir DIR to stage it)" >&2
    exit 1
fi

# The binary: built once, release, with the Swift runtime linked in (the server needs no toolchain).
if [ -z "$binary" ]; then
    if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then export PATH="/opt/swift/usr/bin:$PATH"; fi
    swift build -c release --static-swift-stdlib --product vcbridge >&2
    binary=".build/release/vcbridge"
fi
[ -x "$binary" ] || { say "no executable at $binary" >&2; exit 1; }
"$binary" --version >/dev/null || { say "$binary does not run" >&2; exit 1; }

# The account: a system user with no login and no home of its own.
if [ -z "$destdir" ] && ! getent passwd "$user" >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/vcbridge --no-create-home --shell /usr/sbin/nologin \
        --comment "vcbridge video-conference bridge" "$user"
    say "created the system user $user"
fi
group=""
if getent passwd "$user" >/dev/null; then group=$(id -gn "$user"); fi
[ -n "$group" ] || group="$user"

install -d -m 0755 "$bin_dir" "$unit_dir"
# A new file renamed over the old one: a running bridge keeps its inode until it restarts.
install -m 0755 "$binary" "$bin_dir/.vcbridge.new"
mv -f "$bin_dir/.vcbridge.new" "$bin_dir/vcbridge"
say "installed $bin_dir/vcbridge ($("$bin_dir/vcbridge" --version))"

# Settings: written once; an upgrade keeps what the operator changed.
install -d -m 0755 "$conf_dir"
if [ -e "$conf_dir/vcbridge.json" ]; then
    say "kept $conf_dir/vcbridge.json"
else
    umask 027
    cat > "$conf_dir/.vcbridge.json.new" <<'EOF'
{
  "sites": {
    "directory": "vinhphuc-2024"
  },
  "bridge": {
    "capacity": 160,
    "listenAddress": "0.0.0.0",
    "signalingPort": 7400,
    "mediaPort": 7402
  },
  "quality": {
    "httpEnabled": false,
    "httpAddress": "127.0.0.1",
    "httpPort": 7480,
    "tlsCertificateFile": "",
    "tlsPrivateKeyFile": ""
  },
  "sip": {
    "enabled": false,
    "port": 5060,
    "tlsEnabled": false,
    "tlsPort": 5061,
    "dialOut": {},
    "cascadeCredentials": {}
  },
  "schedule": {
    "setupMinutes": 15,
    "workingHours": "07:30-17:00"
  }
}
EOF
    umask 022
    "$bin_dir/vcbridge" config --config "$conf_dir/.vcbridge.json.new" >/dev/null
    mv "$conf_dir/.vcbridge.json.new" "$conf_dir/vcbridge.json"
    say "wrote $conf_dir/vcbridge.json (every key left out keeps its default: 'vcbridge config' shows them all)"
fi
# Readable by the service, not by others (SIP credentials live here).
chmod 0640 "$conf_dir/vcbridge.json"
owner_known=0
if [ "$(id -u)" -eq 0 ] && getent passwd "$user" >/dev/null; then owner_known=1; fi
if [ "$owner_known" = 1 ]; then chown "root:$group" "$conf_dir/vcbridge.json"; fi

# Bookings, keys, certificates, quality history: the service's own, nobody else's.
install -d -m 0755 "$(dirname "$data_dir")"
install -d -m 0700 "$data_dir"
chmod 0700 "$data_dir"
if [ "$owner_known" = 1 ]; then
    chown "$user:$group" "$data_dir"
elif [ -n "$destdir" ]; then
    say "$user is no account here: $data_dir and the settings keep their owner (systemd's StateDirectory= gives them to $user)"
fi

cat > "$unit_dir/.vcbridge.service.new" <<EOF
[Unit]
Description=vcbridge video-conference bridge and meeting scheduler
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=$user
Group=$group
ExecStart=/usr/local/bin/vcbridge serve --config /etc/vcbridge/vcbridge.json --data-dir /var/lib/vcbridge
Restart=on-failure
RestartSec=2s
# SIGTERM ends every session cleanly (sites are told, RTCP BYE is sent).
KillSignal=SIGTERM
TimeoutStopSec=20s
# 147 sites with TCP joins, WebRTC and SIP: descriptors to spare.
LimitNOFILE=65536
UMask=0077
StandardOutput=journal
StandardError=journal
SyslogIdentifier=vcbridge

# The media thread's SCHED_FIFO priority needs CAP_SYS_NICE; nothing else (RestrictRealtime would deny it).
AmbientCapabilities=CAP_SYS_NICE
CapabilityBoundingSet=CAP_SYS_NICE
NoNewPrivileges=yes
# Everything read-only but the data directory.
ProtectSystem=strict
ReadWritePaths=/var/lib/vcbridge
StateDirectory=vcbridge
StateDirectoryMode=0700
PrivateTmp=yes
PrivateDevices=yes
ProtectHome=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
PrivateMounts=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
EOF
chmod 0644 "$unit_dir/.vcbridge.service.new"
mv -f "$unit_dir/.vcbridge.service.new" "$unit"
say "wrote $unit"

if [ "$systemd_live" = 1 ]; then
    systemctl daemon-reload
    systemctl enable vcbridge.service >/dev/null
    # An upgrade restarts the running bridge on the new binary; a first install starts it.
    systemctl restart vcbridge.service
    say "vcbridge.service enabled and (re)started: 'journalctl -u vcbridge' shows its log"
elif [ -z "$destdir" ]; then
    say "systemd is not running here: start it with 'systemctl enable --now vcbridge' once it is"
fi
