#!/usr/bin/env bash
# Install or upgrade rfapi on this PBX (as root). Idempotent: run it again to
# upgrade; the configuration (/etc/rfapi) is never overwritten.
#
#   deploy/install.sh                              # from a checkout
#   deploy/install.sh --wheel rfapi-X.Y.Z-py3-none-any.whl
#   deploy/install.sh --white-label api.example.com --cert FULLCHAIN.pem --key KEY.pem
#                                   (sites-available/zz-rfapi-<name>.conf, one per name)
#
# What it changes on the box (every path below can be moved, see --help):
#   /opt/rfapi/venv                 virtualenv with rfapi, gunicorn and their dependencies
#   /usr/local/bin/rfapi            -> /opt/rfapi/venv/bin/rfapi (`rfapi check`)
#   /opt/rfapi/{deploy,apache,module.xml}   gunicorn.conf.py, templates, uninstall.sh
#   /etc/rfapi/rfapi.ini            created once (random API password, printed once), 0640 root:<group>
#   /etc/systemd/system/rfapi.service   gunicorn as the asterisk user on unix:/run/rfapi/rfapi.sock
#   Apache: conf-available/rfapi.conf (+ a2enconf; RHEL: conf.d/rfapi.conf), mod_proxy,
#           mod_proxy_http, mod_headers; reloaded only if `apachectl configtest` passes
#   <AMPWEBROOT>/admin/modules/rfapi/module.xml   when FreePBX is present (Module Admin lists it)
#   /etc/fail2ban/filter.d/rfapi.conf   when fail2ban is present (the jail is an example)
#   /var/cache/rfapi                owned by the service user
#   /var/lib/rfapi                  rfapi's lasting state (API tokens), owned by the service user; kept on upgrade
set -euo pipefail

usage() {
    cat <<'EOF'
usage: install.sh [options]                      install or upgrade rfapi
       install.sh --white-label NAME --cert FILE --key FILE [--port 443]
                                                 add/refresh an API-only HTTPS vhost for NAME

options (environment variable in brackets; flags win):
  --wheel FILE       install this built wheel                        [RFAPI_WHEEL]
  --source DIR       build from this checkout (default: the one holding this script) [RFAPI_SOURCE]
  --root DIR         install into DIR as if it were / (CI, image builds); default /   [RFAPI_ROOT]
                     with a root other than /, systemctl, apachectl and apt are never run
  --prefix DIR       default /opt/rfapi (virtualenv in PREFIX/venv)   [RFAPI_PREFIX]
  --etc DIR          default /etc/rfapi                               [RFAPI_ETC]
  --user NAME        service user, default asterisk                   [RFAPI_USER]
  --group NAME       service group, default the user's primary group  [RFAPI_GROUP]
  --bind ADDR        gunicorn address: unix:/run/rfapi/rfapi.sock (default) or 127.0.0.1:PORT [RFAPI_BIND]
  --python EXE       Python 3.9+ for the virtualenv (default: python3, else python3.13..3.9) [RFAPI_PYTHON]
  --pip-args ARGS    extra pip install arguments, e.g. "--no-index --find-links /srv/wheels" [RFAPI_PIP_ARGS]
  --apache-dir DIR   default /etc/apache2 (Debian) or /etc/httpd (RHEL/SNG7)   [RFAPI_APACHE_DIR]
  --systemd-dir DIR  default /etc/systemd/system                      [RFAPI_SYSTEMD_DIR]
  --webroot DIR      FreePBX's AMPWEBROOT (default: from /etc/freepbx.conf, else /var/www/html) [RFAPI_WEBROOT]
  --proxy-timeout S  Apache's wait for rfapi, default 360 (> fwconsole's 300) [RFAPI_PROXY_TIMEOUT]
  --no-systemctl     do not run systemctl          [RFAPI_NO_SYSTEMCTL=1]
  --no-apachectl     do not run apachectl          [RFAPI_NO_APACHECTL=1]
  --no-apt           do not apt-get build dependencies [RFAPI_NO_APT=1]
  --no-check         do not run `rfapi check` at the end [RFAPI_NO_CHECK=1]
EOF
}

say() { echo "rfapi install: $*"; }
die() { echo "rfapi install: ERROR: $*" >&2; exit 1; }

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOP="$(cd "$HERE/.." && pwd)"   # a checkout, or an installed PREFIX (same layout)

ROOT="${RFAPI_ROOT:-/}"
PREFIX="${RFAPI_PREFIX:-/opt/rfapi}"
ETC="${RFAPI_ETC:-/etc/rfapi}"
SVC_USER="${RFAPI_USER:-asterisk}"
SVC_GROUP="${RFAPI_GROUP:-}"
BIND="${RFAPI_BIND:-}"
PYTHON="${RFAPI_PYTHON:-}"
PIP_ARGS="${RFAPI_PIP_ARGS:-}"
WHEEL="${RFAPI_WHEEL:-}"
SOURCE="${RFAPI_SOURCE:-}"
APACHE_DIR="${RFAPI_APACHE_DIR:-}"
SYSTEMD_DIR="${RFAPI_SYSTEMD_DIR:-/etc/systemd/system}"
WEBROOT="${RFAPI_WEBROOT:-}"
PROXY_TIMEOUT="${RFAPI_PROXY_TIMEOUT:-360}"
NO_SYSTEMCTL="${RFAPI_NO_SYSTEMCTL:-}"
NO_APACHECTL="${RFAPI_NO_APACHECTL:-}"
NO_APT="${RFAPI_NO_APT:-}"
NO_CHECK="${RFAPI_NO_CHECK:-}"
WL_NAME="" WL_CERT="" WL_KEY="" WL_PORT="443"

while [ $# -gt 0 ]; do
    case "$1" in
        --wheel) WHEEL="$2"; shift 2 ;;
        --source) SOURCE="$2"; shift 2 ;;
        --root) ROOT="$2"; shift 2 ;;
        --prefix) PREFIX="$2"; shift 2 ;;
        --etc) ETC="$2"; shift 2 ;;
        --user) SVC_USER="$2"; shift 2 ;;
        --group) SVC_GROUP="$2"; shift 2 ;;
        --bind) BIND="$2"; shift 2 ;;
        --python) PYTHON="$2"; shift 2 ;;
        --pip-args) PIP_ARGS="$2"; shift 2 ;;
        --apache-dir) APACHE_DIR="$2"; shift 2 ;;
        --systemd-dir) SYSTEMD_DIR="$2"; shift 2 ;;
        --webroot) WEBROOT="$2"; shift 2 ;;
        --proxy-timeout) PROXY_TIMEOUT="$2"; shift 2 ;;
        --no-systemctl) NO_SYSTEMCTL=1; shift ;;
        --no-apachectl) NO_APACHECTL=1; shift ;;
        --no-apt) NO_APT=1; shift ;;
        --no-check) NO_CHECK=1; shift ;;
        --white-label) WL_NAME="$2"; shift 2 ;;
        --cert) WL_CERT="$2"; shift 2 ;;
        --key) WL_KEY="$2"; shift 2 ;;
        --port) WL_PORT="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option $1" ;;
    esac
done

# ---------------------------------------------------------------------------------
# paths: every system path is $ROOT + its on-box path; files written into the
# box's configuration (unit, Apache) name the on-box path.
ROOT="${ROOT%/}"
r() { echo "$ROOT$1"; }
REAL_ROOT=""; [ -z "$ROOT" ] && REAL_ROOT=1
VENV="$PREFIX/venv"
MARKER="$PREFIX/.rfapi-install"
[ -z "$BIND" ] && [ -f "$(r "$MARKER")" ] && BIND="$(sed -n 's/^bind=//p' "$(r "$MARKER")")"
BIND="${BIND:-unix:/run/rfapi/rfapi.sock}"

if [ -n "$REAL_ROOT" ] && [ "$(id -u)" != 0 ]; then die "run me as root (or use --root DIR)"; fi
case "$PROXY_TIMEOUT" in ''|*[!0-9]*) die "--proxy-timeout must be a number of seconds" ;; esac

# gunicorn listens on a unix socket or loopback only (deploy/gunicorn.conf.py refuses anything else).
case "$BIND" in
    unix:/*) UPSTREAM="unix:${BIND#unix:}|http://localhost"; UPSTREAM_REVERSE="http://localhost" ;;
    127.*:[0-9]*|localhost:[0-9]*|\[::1\]:[0-9]*) UPSTREAM="http://$BIND"; UPSTREAM_REVERSE="http://$BIND" ;;
    *) die "--bind must be unix:/path or 127.0.0.1:PORT (never a public address), not '$BIND'" ;;
esac

have() { command -v "$1" >/dev/null 2>&1; }
use_systemctl() { [ -n "$REAL_ROOT" ] && [ -z "$NO_SYSTEMCTL" ] && [ -d /run/systemd/system ] && have systemctl; }
# With --root, only an apachectl named explicitly (RFAPI_APACHECTL) is run: the
# box's own would test and reload the box's Apache, not the one under ROOT.
APACHECTL="${RFAPI_APACHECTL:-}"
if [ -z "$APACHECTL" ] && [ -n "$REAL_ROOT" ]; then
    for c in apachectl apache2ctl; do have "$c" && { APACHECTL="$c"; break; }; done
fi
use_apachectl() { [ -z "$NO_APACHECTL" ] && [ -n "$APACHECTL" ]; }

# Apache layout: Debian (conf-available + a2enconf) or RHEL/SNG7 (conf.d).
if [ -z "$APACHE_DIR" ]; then
    if [ -d "$(r /etc/apache2)" ]; then APACHE_DIR=/etc/apache2
    elif [ -d "$(r /etc/httpd)" ]; then APACHE_DIR=/etc/httpd
    fi
fi
APACHE_LAYOUT=""
if [ -n "$APACHE_DIR" ] && [ -d "$(r "$APACHE_DIR")/conf-available" ]; then APACHE_LAYOUT=debian; APACHE_UNIT=apache2
elif [ -n "$APACHE_DIR" ] && [ -d "$(r "$APACHE_DIR")/conf.d" ]; then APACHE_LAYOUT=rhel; APACHE_UNIT=httpd
fi

# write_if_changed SRC DEST MODE: replace DEST only when its bytes differ; returns 0 if it changed.
write_if_changed() {
    local src=$1 dest=$2 mode=$3
    mkdir -p "$(dirname "$dest")"
    if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
        chmod "$mode" "$dest"
        return 1
    fi
    cp "$src" "$dest.rfapi-new"
    chmod "$mode" "$dest.rfapi-new"
    mv -f "$dest.rfapi-new" "$dest"
    return 0
}

# render TEMPLATE OUT KEY=VALUE...: replace @KEY@ (values may hold / | &).
render() {
    local tpl=$1 out=$2; shift 2
    local args=() kv k v d=$'\x01'
    for kv in "$@"; do
        k=${kv%%=*}; v=${kv#*=}
        case "$v" in *$'\n'*|*"$d"*) die "bad value for $k" ;; esac
        v=${v//\\/\\\\}; v=${v//&/\\&}
        args+=(-e "s${d}@${k}@${d}${v}${d}g")
    done
    sed "${args[@]}" "$tpl" > "$out"
    if grep -n '@[A-Z_][A-Z_]*@' "$out" >&2; then die "unrendered placeholder in $tpl"; fi
}

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# Apache helpers ------------------------------------------------------------------
apache_enable_modules() {  # apache_enable_modules MOD... (Debian: a2enmod or its symlinks)
    [ "$APACHE_LAYOUT" = debian ] || return 0   # RHEL loads proxy/headers/ssl from conf.modules.d
    local m f a; a="$(r "$APACHE_DIR")"
    if [ -n "$REAL_ROOT" ] && have a2enmod; then
        a2enmod -q "$@" >/dev/null
        return 0
    fi
    mkdir -p "$a/mods-enabled"
    for m in "$@"; do
        for f in "$m.load" "$m.conf"; do
            [ -f "$a/mods-available/$f" ] && ln -sfn "../mods-available/$f" "$a/mods-enabled/$f"
        done
    done
    return 0
}

apache_apply() {  # configtest and reload; on failure run the rollback given as $1 and fail
    local rollback=$1
    if ! use_apachectl; then
        say "Apache not reloaded (no apachectl, --no-apachectl, or --root without RFAPI_APACHECTL)"
        return 0
    fi
    local out
    if ! out="$("$APACHECTL" configtest 2>&1)"; then
        eval "$rollback"
        echo "$out" >&2
        die "apachectl configtest failed; the rfapi Apache change was rolled back and Apache was not reloaded"
    fi
    if use_systemctl; then
        if systemctl is-active --quiet "$APACHE_UNIT"; then
            systemctl reload "$APACHE_UNIT"
            say "Apache reloaded ($APACHE_UNIT)"
        else
            say "Apache ($APACHE_UNIT) is not running: the configuration is in place for its next start"
        fi
    else
        "$APACHECTL" graceful
        say "Apache reloaded (apachectl graceful)"
    fi
}

find_template() {  # the checkout's or the installed copy's file, else the copy inside the wheel
    local f="$TOP/$1"
    if [ ! -f "$f" ] && [ -n "${V:-}" ] && [ -f "$V/share/rfapi/$1" ]; then
        f="$V/share/rfapi/$1"   # install.sh copied alone next to a wheel: the wheel carries the rest
    fi
    [ -f "$f" ] || die "missing $1 next to this script ($TOP) and in the installed package"
    echo "$f"
}

# ---------------------------------------------------------------------------------
# --white-label: only the API-only vhost for one name.
if [ -n "$WL_NAME" ]; then
    [[ "$WL_NAME" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || die "--white-label needs a host name, not '$WL_NAME'"
    [ -n "$WL_CERT" ] && [ -n "$WL_KEY" ] || die "--white-label needs --cert FILE and --key FILE"
    case "$WL_PORT" in ''|*[!0-9]*) die "--port must be a number" ;; esac
    for f in "$WL_CERT" "$WL_KEY"; do
        case "$f" in /*) ;; *) die "--cert/--key need absolute paths" ;; esac
        [ -r "$(r "$f")" ] || die "$(r "$f") is not readable"
    done
    [ -n "$APACHE_LAYOUT" ] || die "no Apache configuration found (looked in $(r /etc/apache2) and $(r /etc/httpd))"
    a="$(r "$APACHE_DIR")"
    # "zz-": Apache makes the first *:443 vhost it reads the default for unknown
    # names; that must stay FreePBX's own (default-ssl.conf, ssl.conf...), not ours.
    base="zz-rfapi-$WL_NAME.conf"
    if [ "$APACHE_LAYOUT" = debian ]; then
        site="$a/sites-available/$base"; link="$a/sites-enabled/$base"
    else
        site="$a/conf.d/$base"; link=""
    fi
    render "$(find_template apache/rfapi-vhost.conf.in)" "$TMP/vhost.conf" \
        "SERVER_NAME=$WL_NAME" "PORT=$WL_PORT" "CERT_FILE=$WL_CERT" "KEY_FILE=$WL_KEY" \
        "UPSTREAM=$UPSTREAM" "UPSTREAM_REVERSE=$UPSTREAM_REVERSE" "TIMEOUT=$PROXY_TIMEOUT"
    had_site=""; [ -f "$site" ] && { cp -p "$site" "$TMP/site.old"; had_site=1; }
    write_if_changed "$TMP/vhost.conf" "$site" 0644 || true
    if [ -n "$link" ]; then mkdir -p "$(dirname "$link")"; ln -sfn "../sites-available/$base" "$link"; fi
    apache_enable_modules ssl socache_shmcb proxy proxy_http headers alias
    say "white-label vhost for $WL_NAME: ${site#"$ROOT"}"
    if [ -n "$had_site" ]; then rollback="cp -p '$TMP/site.old' '$site'"; else rollback="rm -f '$site' ${link:+'$link'}"; fi
    apache_apply "$rollback"
    exit 0
fi

# ---------------------------------------------------------------------------------
# 1. who the service runs as
getent passwd "$SVC_USER" >/dev/null || die "no user '$SVC_USER' on this box (FreePBX's is asterisk; use --user)"
[ -n "$SVC_GROUP" ] || SVC_GROUP="$(id -gn "$SVC_USER")"
getent group "$SVC_GROUP" >/dev/null || die "no group '$SVC_GROUP' on this box (use --group)"

# 2. the package source
if [ -n "$WHEEL" ]; then
    [ -f "$WHEEL" ] || die "no wheel at $WHEEL"
    WHEEL="$(cd "$(dirname "$WHEEL")" && pwd)/$(basename "$WHEEL")"
else
    SOURCE="${SOURCE:-$TOP}"
    [ -f "$SOURCE/setup.cfg" ] && [ -d "$SOURCE/rfapi" ] || die "no checkout at $SOURCE (pass --wheel FILE or --source DIR)"
fi

# 3. Python 3.9+ and the virtualenv
py_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' >/dev/null 2>&1; }
if [ -z "$PYTHON" ]; then
    for c in python3 python3.13 python3.12 python3.11 python3.10 python3.9; do
        if have "$c" && py_ok "$c"; then PYTHON="$c"; break; fi
    done
    [ -n "$PYTHON" ] || die "no Python 3.9 or newer found (install one, or pass --python)"
else
    py_ok "$PYTHON" || die "$PYTHON is not Python 3.9 or newer"
fi

apt_need() {  # apt-get install the Debian packages of "$@" that are missing (real root only)
    [ -n "$REAL_ROOT" ] && [ -z "$NO_APT" ] && have apt-get && have dpkg || return 0
    local need=() p
    for p in "$@"; do dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || need+=("$p"); done
    [ ${#need[@]} -gt 0 ] || return 0
    say "installing ${need[*]} (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
}

V="$(r "$VENV")"
mkdir -p "$(r "$PREFIX")"
exec 9>"$(r "$PREFIX")/.install.lock"
flock -w 600 9 || die "another install is running (lock $(r "$PREFIX")/.install.lock)"

pyver() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true; }
if [ -x "$V/bin/python" ] && [ "$(pyver "$V/bin/python")" != "$(pyver "$PYTHON")" ]; then
    say "Python changed ($(pyver "$V/bin/python") -> $(pyver "$PYTHON")): rebuilding the virtualenv"
    rm -rf "$V"
fi
if [ ! -x "$V/bin/python" ]; then
    [ "$PYTHON" = python3 ] && apt_need python3-venv
    "$PYTHON" -m venv "$V" || die "could not create a virtualenv with $PYTHON (Debian: apt-get install python3-venv)"
    say "virtualenv $V ($(pyver "$V/bin/python"))"
fi
if ! "$V/bin/python" -c 'import MySQLdb' >/dev/null 2>&1 && [[ " $PIP_ARGS " != *" --no-index "* ]]; then
    # mysqlclient is compiled on the box unless a wheelhouse provides it.
    [ "$PYTHON" = python3 ] && apt_need gcc python3-dev pkg-config libmariadb-dev
fi

# 4. the package (a checkout is built into a wheel first, in a scratch copy so the
# checkout gets no build/ or egg-info droppings)
old_version="$("$V/bin/python" -c 'import rfapi; print(rfapi.__version__)' 2>/dev/null || true)"
old_gunicorn="$("$V/bin/python" -c 'import gunicorn; print(gunicorn.__version__)' 2>/dev/null || true)"
read -r -a pip_extra <<<"$PIP_ARGS"
if [ -z "$WHEEL" ]; then
    mkdir -p "$TMP/src" "$TMP/dist"
    for f in pyproject.toml setup.cfg setup.py MANIFEST.in README.md LICENSE rfapi deploy apache module.xml; do
        [ -e "$SOURCE/$f" ] && cp -a "$SOURCE/$f" "$TMP/src/"
    done
    find "$TMP/src" -name __pycache__ -prune -exec rm -rf {} +
    "$V/bin/python" -m pip wheel -q --no-deps ${pip_extra[@]+"${pip_extra[@]}"} -w "$TMP/dist" "$TMP/src" >/dev/null \
        || die "building the wheel from $SOURCE failed"
    WHEEL="$(ls "$TMP"/dist/rfapi-*.whl)"
fi
"$V/bin/python" -m pip install -q ${pip_extra[@]+"${pip_extra[@]}"} "$WHEEL" || die "pip install of $WHEEL failed"
# Same version number, new build (a checkout between releases): replace rfapi itself.
"$V/bin/python" -m pip install -q --no-deps --force-reinstall ${pip_extra[@]+"${pip_extra[@]}"} "$WHEEL" >/dev/null
new_version="$("$V/bin/python" -c 'import rfapi; print(rfapi.__version__)')"
new_gunicorn="$("$V/bin/python" -c 'import gunicorn; print(gunicorn.__version__)')"
if [ -n "$old_version" ]; then say "upgraded rfapi $old_version -> $new_version in $V"; else say "installed rfapi $new_version in $V"; fi

# `rfapi check` on PATH (unless something else already owns /usr/local/bin/rfapi)
bin="$(r /usr/local/bin)/rfapi"
if [ ! -e "$bin" ] || [ "$(readlink "$bin" 2>/dev/null)" = "$VENV/bin/rfapi" ]; then
    mkdir -p "$(dirname "$bin")"; ln -sfn "$VENV/bin/rfapi" "$bin"
fi

# 5. support files into PREFIX (same layout as a checkout, so PREFIX/deploy/*.sh work from there)
P="$(r "$PREFIX")"
changed_conf=""
if [ "$(cd "$TOP" && pwd -P)" != "$(cd "$P" && pwd -P)" ]; then
    for f in deploy/install.sh deploy/uninstall.sh deploy/gunicorn.conf.py deploy/rfapi.service \
             deploy/fail2ban/filter.d/rfapi.conf deploy/fail2ban/jail.d/rfapi.conf \
             apache/rfapi.conf.in apache/rfapi-vhost.conf.in module.xml; do
        mode=0644; case "$f" in *.sh) mode=0755 ;; esac
        if write_if_changed "$(find_template "$f")" "$P/$f" "$mode" && [ "$f" = deploy/gunicorn.conf.py ]; then
            changed_conf=1
        fi
    done
fi

# 6. the configuration: created once, never overwritten
E="$(r "$ETC")"
mkdir -p "$E"
chown "root:$SVC_GROUP" "$E"; chmod 0750 "$E"
INI="$E/rfapi.ini"
if [ -e "$INI" ]; then
    say "kept $ETC/rfapi.ini"
else
    password="$("$V/bin/python" -c 'import secrets; print(secrets.token_urlsafe(24))')"
    (
        umask 077
        cat > "$INI.rfapi-new" <<EOF
; rfapi configuration, created by deploy/install.sh on $(date -u +%Y-%m-%d).
; Re-running the installer keeps this file. Every key but [api] password is
; optional: database, AMI, spool and sounds come from FreePBX itself
; (/etc/freepbx.conf and freepbx_settings). See README "Configuration".
[api]
user = api
password = $password
EOF
    )
    chown "root:$SVC_GROUP" "$INI.rfapi-new"
    chmod 0640 "$INI.rfapi-new"
    mv -n "$INI.rfapi-new" "$INI"
    rm -f "$INI.rfapi-new"
    say "created $ETC/rfapi.ini with a new API password (shown only this once):"
    echo "    user: api"
    echo "    password: $password"
fi

C="$(r /var/cache/rfapi)"
mkdir -p "$C"; chown "$SVC_USER:$SVC_GROUP" "$C"; chmod 0750 "$C"
S="$(r /var/lib/rfapi)"   # [paths] state: API tokens; never emptied by an upgrade
mkdir -p "$S"; chown "$SVC_USER:$SVC_GROUP" "$S"; chmod 0750 "$S"

# 7. systemd unit
render "$(find_template deploy/rfapi.service)" "$TMP/rfapi.service" \
    "USER=$SVC_USER" "GROUP=$SVC_GROUP" "CONFIG=$ETC/rfapi.ini" "ETC=$ETC" "BIND=$BIND" \
    "PREFIX=$PREFIX" "VENV=$VENV"
unit_changed=""
write_if_changed "$TMP/rfapi.service" "$(r "$SYSTEMD_DIR")/rfapi.service" 0644 && unit_changed=1
say "systemd unit $SYSTEMD_DIR/rfapi.service (gunicorn on $BIND as $SVC_USER:$SVC_GROUP)"

# 8. Apache: the /api/v1 snippet for the PBX's own vhosts
render "$(find_template apache/rfapi.conf.in)" "$TMP/rfapi.conf" \
    "UPSTREAM=$UPSTREAM" "UPSTREAM_REVERSE=$UPSTREAM_REVERSE" "TIMEOUT=$PROXY_TIMEOUT"
mkdir -p "$P/apache"; cp "$TMP/rfapi.conf" "$P/apache/rfapi.conf"   # the rendered copy, for a manual setup
if [ -z "$APACHE_LAYOUT" ]; then
    say "no Apache configuration found: include $PREFIX/apache/rfapi.conf in your HTTPS vhost yourself"
else
    a="$(r "$APACHE_DIR")"
    if [ "$APACHE_LAYOUT" = debian ]; then
        snippet="$a/conf-available/rfapi.conf"; link="$a/conf-enabled/rfapi.conf"
    else
        snippet="$a/conf.d/rfapi.conf"; link=""
    fi
    had=""; [ -f "$snippet" ] && { cp -p "$snippet" "$TMP/snippet.old"; had=1; }
    had_link=""; [ -n "$link" ] && [ -L "$link" ] && had_link=1
    write_if_changed "$TMP/rfapi.conf" "$snippet" 0644 || true
    if [ -n "$link" ]; then
        if [ -n "$REAL_ROOT" ] && have a2enconf; then a2enconf -q rfapi >/dev/null
        else mkdir -p "$(dirname "$link")"; ln -sfn ../conf-available/rfapi.conf "$link"; fi
    fi
    apache_enable_modules proxy proxy_http headers authz_host
    say "Apache snippet ${snippet#"$ROOT"} (/api/v1/ -> $BIND)"
    rollback="rm -f '$snippet'"
    [ -n "$had" ] && rollback="cp -p '$TMP/snippet.old' '$snippet'"
    [ -n "$link" ] && [ -z "$had_link" ] && rollback="$rollback; rm -f '$link'"
    # On FreePBX, Apache runs as asterisk: it may use the 0770 socket. Say so when it cannot.
    if [ "$BIND" != "${BIND#unix:}" ]; then
        web_user=""
        [ -f "$a/envvars" ] && web_user="$(sed -n 's/^export APACHE_RUN_USER=//p' "$a/envvars" | tr -d "\"'" | tail -1)"
        [ -z "$web_user" ] && [ -f "$a/conf/httpd.conf" ] && web_user="$(awk '$1=="User"{print $2}' "$a/conf/httpd.conf" | tail -1)"
        if [ -n "$web_user" ] && [ "$web_user" != "$SVC_USER" ] && ! id -nG "$web_user" 2>/dev/null | tr ' ' '\n' | grep -qx "$SVC_GROUP"; then
            say "WARNING: Apache runs as $web_user, which cannot use the socket (group $SVC_GROUP):"
            say "         add it to that group, or re-run with --bind 127.0.0.1:PORT"
        fi
    fi
    apache_apply "$rollback"
fi

# 9. FreePBX: module.xml where Module Admin looks for modules (AMPWEBROOT/admin/modules/<rawname>/)
if [ -f "$(r /etc/freepbx.conf)" ]; then
    if [ -z "$WEBROOT" ]; then
        WEBROOT="$(sed -n "s#.*require_once(['\"]\(.*\)/admin/bootstrap\.php['\"]).*#\1#p" "$(r /etc/freepbx.conf)" | head -1)"
        WEBROOT="${WEBROOT:-/var/www/html}"
    fi
    if [ -d "$(r "$WEBROOT")/admin/modules" ]; then
        m="$(r "$WEBROOT")/admin/modules/rfapi"
        mkdir -p "$m"
        write_if_changed "$(find_template module.xml)" "$m/module.xml" 0644 || true
        chown -R "$SVC_USER:$SVC_GROUP" "$m"
        say "FreePBX module descriptor $WEBROOT/admin/modules/rfapi/module.xml"
    else
        say "FreePBX config found but no $WEBROOT/admin/modules: module.xml not registered"
    fi
fi

# 10. fail2ban filter (the jail stays an example: $PREFIX/deploy/fail2ban/jail.d/rfapi.conf)
if [ -d "$(r /etc/fail2ban/filter.d)" ]; then
    write_if_changed "$(find_template deploy/fail2ban/filter.d/rfapi.conf)" "$(r /etc/fail2ban/filter.d)/rfapi.conf" 0644 || true
    say "fail2ban filter /etc/fail2ban/filter.d/rfapi.conf (jail example: $PREFIX/deploy/fail2ban/jail.d/rfapi.conf)"
fi

# 11. what uninstall.sh and --white-label need to know
cat > "$TMP/marker" <<EOF
version=$new_version
prefix=$PREFIX
etc=$ETC
user=$SVC_USER
group=$SVC_GROUP
bind=$BIND
apache_dir=$APACHE_DIR
systemd_dir=$SYSTEMD_DIR
webroot=$WEBROOT
EOF
write_if_changed "$TMP/marker" "$(r "$MARKER")" 0644 || true

# 12. start or refresh the service
if use_systemctl; then
    systemctl daemon-reload
    systemctl enable --quiet rfapi
    failed() { journalctl -u rfapi -n 30 --no-pager >&2 || true; die "rfapi did not $1 (journal above)"; }
    if systemctl is-active --quiet rfapi; then
        if [ -n "$unit_changed$changed_conf" ] || [ "$old_gunicorn" != "$new_gunicorn" ]; then
            systemctl restart rfapi || failed restart; say "service restarted"
        else
            systemctl reload rfapi || failed reload; say "service reloaded (new workers run rfapi $new_version)"
        fi
    else
        systemctl start rfapi || failed start; say "service started"
    fi
    if [ -z "$NO_CHECK" ]; then
        say "rfapi check:"
        RFAPI_CONFIG="$ETC/rfapi.ini" "$VENV/bin/rfapi" check --user "$SVC_USER" | sed 's/^/    /' || true
    fi
else
    say "systemd not used here: the service was not started. By hand:"
    say "  RFAPI_CONFIG=$ETC/rfapi.ini RFAPI_BIND=$BIND $VENV/bin/gunicorn --config $PREFIX/deploy/gunicorn.conf.py 'rfapi:create_app()'"
fi
say "done (rfapi $new_version)"
