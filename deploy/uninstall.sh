#!/usr/bin/env bash
# Remove rfapi from this PBX (as root): the service, the Apache snippet and
# white-label vhosts, the FreePBX module descriptor, the fail2ban filter, the
# cache and /opt/rfapi. The configuration (/etc/rfapi) and the state (/var/lib/rfapi:
# API tokens) stay unless --purge.
#
#   /opt/rfapi/deploy/uninstall.sh [--purge]       (or deploy/uninstall.sh from a checkout)
#   deploy/uninstall.sh --white-label NAME          remove only that white-label vhost
#
# Same path options/environment as install.sh (--root, --prefix, --etc, --apache-dir,
# --systemd-dir, --webroot, --no-systemctl, --no-apachectl); by default the paths
# recorded by install.sh in PREFIX/.rfapi-install are used.
set -euo pipefail

say() { echo "rfapi uninstall: $*"; }
die() { echo "rfapi uninstall: ERROR: $*" >&2; exit 1; }

ROOT="${RFAPI_ROOT:-/}"
PREFIX="${RFAPI_PREFIX:-/opt/rfapi}"
ETC="${RFAPI_ETC:-}"
APACHE_DIR="${RFAPI_APACHE_DIR:-}"
SYSTEMD_DIR="${RFAPI_SYSTEMD_DIR:-}"
WEBROOT="${RFAPI_WEBROOT:-}"
NO_SYSTEMCTL="${RFAPI_NO_SYSTEMCTL:-}"
NO_APACHECTL="${RFAPI_NO_APACHECTL:-}"
PURGE="" WL_NAME=""

while [ $# -gt 0 ]; do
    case "$1" in
        --purge) PURGE=1; shift ;;
        --root) ROOT="$2"; shift 2 ;;
        --prefix) PREFIX="$2"; shift 2 ;;
        --etc) ETC="$2"; shift 2 ;;
        --apache-dir) APACHE_DIR="$2"; shift 2 ;;
        --systemd-dir) SYSTEMD_DIR="$2"; shift 2 ;;
        --webroot) WEBROOT="$2"; shift 2 ;;
        --no-systemctl) NO_SYSTEMCTL=1; shift ;;
        --no-apachectl) NO_APACHECTL=1; shift ;;
        --white-label) WL_NAME="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
done

ROOT="${ROOT%/}"
r() { echo "$ROOT$1"; }
REAL_ROOT=""; [ -z "$ROOT" ] && REAL_ROOT=1
if [ -n "$REAL_ROOT" ] && [ "$(id -u)" != 0 ]; then die "run me as root (or use --root DIR)"; fi

for d in "$PREFIX" "${ETC:-/etc/rfapi}"; do
    case "${d%/}" in ""|/|/etc|/opt|/usr|/var|/usr/local|/home|/root) die "refusing to remove '$d'" ;; esac
done
MARKER="$(r "$PREFIX")/.rfapi-install"
recorded() { [ -f "$MARKER" ] && sed -n "s/^$1=//p" "$MARKER" | tail -1 || true; }
ETC="${ETC:-$(recorded etc)}"; ETC="${ETC:-/etc/rfapi}"
APACHE_DIR="${APACHE_DIR:-$(recorded apache_dir)}"
SYSTEMD_DIR="${SYSTEMD_DIR:-$(recorded systemd_dir)}"; SYSTEMD_DIR="${SYSTEMD_DIR:-/etc/systemd/system}"
WEBROOT="${WEBROOT:-$(recorded webroot)}"; WEBROOT="${WEBROOT:-/var/www/html}"
case "${ETC%/}" in ""|/|/etc|/opt|/usr|/var|/usr/local|/home|/root) die "refusing to remove '$ETC'" ;; esac
if [ -z "$APACHE_DIR" ]; then
    if [ -d "$(r /etc/apache2)" ]; then APACHE_DIR=/etc/apache2; elif [ -d "$(r /etc/httpd)" ]; then APACHE_DIR=/etc/httpd; fi
fi

have() { command -v "$1" >/dev/null 2>&1; }
use_systemctl() { [ -n "$REAL_ROOT" ] && [ -z "$NO_SYSTEMCTL" ] && [ -d /run/systemd/system ] && have systemctl; }
APACHECTL="${RFAPI_APACHECTL:-}"   # with --root, only one named explicitly is run
if [ -z "$APACHECTL" ] && [ -n "$REAL_ROOT" ]; then
    for c in apachectl apache2ctl; do have "$c" && { APACHECTL="$c"; break; }; done
fi
apache_unit=apache2; [ "$APACHE_DIR" = /etc/httpd ] && apache_unit=httpd

apache_reload() {
    if [ -n "$NO_APACHECTL" ] || [ -z "$APACHECTL" ]; then
        say "Apache not reloaded (no apachectl, --no-apachectl, or --root without RFAPI_APACHECTL)"; return 0
    fi
    if ! "$APACHECTL" configtest >/dev/null 2>&1; then
        say "WARNING: apachectl configtest fails (not because of rfapi, whose files are gone); Apache not reloaded"
        return 0
    fi
    if use_systemctl; then
        systemctl is-active --quiet "$apache_unit" && systemctl reload "$apache_unit" || true
    else
        "$APACHECTL" graceful
    fi
    say "Apache reloaded"
}

A=""; [ -n "$APACHE_DIR" ] && A="$(r "$APACHE_DIR")"

if [ -n "$WL_NAME" ]; then
    [[ "$WL_NAME" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || die "not a host name: '$WL_NAME'"
    [ -n "$A" ] || die "no Apache configuration found"
    rm -f "$A/sites-enabled/zz-rfapi-$WL_NAME.conf" "$A/sites-available/zz-rfapi-$WL_NAME.conf" \
          "$A/conf.d/zz-rfapi-$WL_NAME.conf"
    say "removed the white-label vhost $WL_NAME"
    apache_reload
    exit 0
fi

# 1. the service
if use_systemctl; then
    systemctl disable --now rfapi >/dev/null 2>&1 || true
fi
rm -f "$(r "$SYSTEMD_DIR")/rfapi.service"
use_systemctl && systemctl daemon-reload
say "service removed"

# 2. Apache: the snippet and every white-label vhost
if [ -n "$A" ]; then
    if [ -n "$REAL_ROOT" ] && have a2disconf && [ -e "$A/conf-enabled/rfapi.conf" ]; then a2disconf -q rfapi >/dev/null || true; fi
    rm -f "$A/conf-enabled/rfapi.conf" "$A/conf-available/rfapi.conf" "$A/conf.d/rfapi.conf" \
          "$A"/sites-enabled/zz-rfapi-*.conf "$A"/sites-available/zz-rfapi-*.conf "$A"/conf.d/zz-rfapi-*.conf
    say "Apache configuration removed (mod_proxy/mod_headers stay enabled)"
    apache_reload
fi

# 3. FreePBX module descriptor (only ours)
m="$(r "$WEBROOT")/admin/modules/rfapi"
if [ -f "$m/module.xml" ] && grep -q '<rawname>rfapi</rawname>' "$m/module.xml"; then
    rm -rf "$m"
    say "removed $WEBROOT/admin/modules/rfapi"
fi

# 4. fail2ban filter, cache, runtime dir
f2b="$(r /etc/fail2ban/filter.d)/rfapi.conf"
[ -f "$f2b" ] && grep -q 'rfapi auth failure' "$f2b" && rm -f "$f2b" && say "removed the fail2ban filter"
rm -rf "$(r /var/cache/rfapi)" "$(r /run/rfapi)"

bin="$(r /usr/local/bin)/rfapi"
if [ -L "$bin" ] && [ "$(readlink "$bin")" = "$PREFIX/venv/bin/rfapi" ]; then rm -f "$bin"; fi

# 5. the installation itself: only a directory install.sh made (it holds the marker)
P="$(r "$PREFIX")"
if [ -f "$P/.rfapi-install" ]; then
    rm -rf "$P"
    say "removed $PREFIX"
elif [ -e "$P" ]; then
    say "WARNING: $P has no .rfapi-install marker; not removed"
fi

# 6. configuration
if [ -n "$PURGE" ]; then
    rm -rf "$(r "$ETC")" "$(r /var/lib/rfapi)"
    say "purged $ETC and /var/lib/rfapi"
else
    [ -d "$(r "$ETC")" ] && say "kept $ETC (remove it with --purge)"
    [ -d "$(r /var/lib/rfapi)" ] && say "kept /var/lib/rfapi, the API tokens (remove it with --purge)"
fi
say "done"
