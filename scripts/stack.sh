# shellcheck shell=bash
# Shell functions shared by scripts/run-local, scripts/test and the
# integration tests (t/integration/conftest.py calls `bash scripts/stack.sh FUNC`).
#
# Source it:   . scripts/stack.sh        (then call the functions)
# or run it:   bash scripts/stack.sh FUNC [ARGS...]
#
# Inputs (environment, all optional):
#   POOL_ROOT           repository root (default: the parent of scripts/)
#   POOL_VAR            state directory (default: $POOL_ROOT/var)
#   POOL_PORT           loopback port of the private httpd (default 8080)
#   POOL_MAX_FILE_SIZE  PoolMaxFileSize for the rendered config (default: the sample's)
#   POOL_TOKEN_LIFETIME PoolTokenLifetime for the rendered config (default: the sample's)
#   POOL_OUTBOUND_ALLOW PoolOutboundAllow CIDR list for the rendered config (default: unset)
#   POOL_STORE_URL      PoolStorage for the rendered config: a WebDAV store's URL
#                       (default: the directory $POOL_VAR/storage); then
#   POOL_STORE_CREDENTIALS  its PoolStorageCredentials file
#   POOL_PG_FAST=1      fsync=off etc. for throw-away test clusters
#   POOL_CONFIGURE_FLAGS extra ./configure flags (e.g. --enable-sanitizers)
#   APACHE2             the httpd binary (default /usr/sbin/apache2); scripts/test's
#                       sanitizer pass points it at a wrapper that preloads the
#                       ASan runtime (the module is instrumented, Debian's apache2 is not)
#
# Layout of $POOL_VAR:
#   pg/data  pg/run (unix socket only)  pg/postgresql.log
#   storage/ (PoolStorage, DAV root)    dav/ (DavLockDB)
#   pool-keys  httpd.conf  httpd-pool.conf  run/ (pid, runtime files)  log/

POOL_ROOT=${POOL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
POOL_VAR=${POOL_VAR:-$POOL_ROOT/var}
POOL_PORT=${POOL_PORT:-8080}
APACHE2=${APACHE2:-/usr/sbin/apache2}
HTTPD_USER=www-data
HTTPD_GROUP=www-data
PG_USER=postgres
DB_NAME=mod_pool
DB_ROLE=mod_pool

POOL_PACKAGES="build-essential autoconf automake libtool pkg-config apache2 apache2-dev
libapr1-dev libaprutil1-dev libpq-dev libssl-dev libjansson-dev libcurl4-openssl-dev
libxml2-dev check postgresql python3-pytest python3-requests cadaver curl
python3-tuspy"

say() { printf '%s\n' "[stack] $*" >&2; }
die() { printf '%s\n' "[stack] error: $*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# Runs a command with root rights (directly when root, else through sudo).
as_root() {
    if is_root; then "$@"; else sudo "$@"; fi
}

# ---------------------------------------------------------------- packages
ensure_packages() {
    local missing="" p
    for p in $POOL_PACKAGES; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
            missing="$missing $p"
        fi
    done
    # node and npm run the tus-js-client interop tests (t/interop); any
    # node install will do, Debian's when there is none
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        missing="$missing nodejs npm"
    fi
    if [ -z "$missing" ]; then
        return 0
    fi
    say "installing Debian packages:$missing"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing
}

pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)"
    printf '%s\n' "$d"
}

# ---------------------------------------------------------------- build
build() {
    (
        cd "$POOL_ROOT" || exit 1
        local logs=$POOL_ROOT/var/build flags="--enable-werror ${POOL_CONFIGURE_FLAGS:-}"
        mkdir -p "$logs"
        if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
            say "autoreconf -fi"
            autoreconf -fi >"$logs/autoreconf.out" 2>&1 || { cat "$logs/autoreconf.out" >&2; exit 1; }
        fi
        if [ ! -f Makefile ] || [ ! -f config.status ] || [ configure -nt config.status ] \
                || [ "$(cat "$logs/configure-flags" 2>/dev/null)" != "$flags" ]; then
            say "./configure $flags"
            # shellcheck disable=SC2086
            ./configure $flags >"$logs/configure.out" 2>&1 \
                || { tail -n 30 "$logs/configure.out" >&2; exit 1; }
            printf '%s\n' "$flags" >"$logs/configure-flags"
        fi
        say "make"
        make -j"$(nproc 2>/dev/null || echo 2)" >"$logs/make.out" 2>&1 \
            || { say "make failed; the errors (all of it is in var/build/make.out):"
                 grep -E ': (fatal )?error|: undefined reference|\*\*\*' "$logs/make.out" | head -n 40 >&2
                 exit 1; }
        [ -f mod_pool/.libs/mod_pool.so ] || { say "mod_pool/.libs/mod_pool.so was not built"; exit 1; }
        [ -x jobs/poolctl ] || { say "jobs/poolctl was not built"; exit 1; }
    )
}

poolctl_bin() { printf '%s\n' "$POOL_ROOT/jobs/poolctl"; }

# poolctl for this instance: poolctl -c $POOL_VAR/httpd-pool.conf ARGS...
poolctl() { "$POOL_ROOT/jobs/poolctl" -c "$POOL_VAR/httpd-pool.conf" "$@"; }

# ---------------------------------------------------------------- directories
# The httpd User and the postgres user must be able to reach $POOL_VAR.
# A checkout under /root (mode 0700) is not reachable; grant search (x)
# permission on the blocking parent directories, and say so.
ensure_reachable() {
    local user=$1 dir=$2
    is_root || return 0
    if runuser -u "$user" -- test -x "$dir" 2>/dev/null; then
        return 0
    fi
    # from the top down, so that only the directories that block are changed
    local path="" part
    local IFS=/
    for part in $dir; do
        [ -n "$part" ] || continue
        path="$path/$part"
        if [ -d "$path" ] && ! runuser -u "$user" -- test -x "$path" 2>/dev/null; then
            say "granting search permission (o+x) on $path so that $user can reach $dir"
            chmod o+x "$path"
        fi
    done
    unset IFS
    runuser -u "$user" -- test -x "$dir" || die "user $user cannot reach $dir"
}

var_dirs() {
    mkdir -p "$POOL_VAR" "$POOL_VAR/run" "$POOL_VAR/log" "$POOL_VAR/htdocs"
    chmod 0755 "$POOL_VAR"
    if is_root; then
        ensure_reachable "$PG_USER" "$POOL_VAR"
        ensure_reachable "$HTTPD_USER" "$POOL_VAR"
    fi
}

# ---------------------------------------------------------------- PostgreSQL
# Private cluster in $POOL_VAR/pg; it listens on a unix socket in
# $POOL_VAR/pg/run only (listen_addresses = ''), so it never collides with a
# system cluster.  PostgreSQL refuses root: as root it runs as postgres.
as_pg() {
    if is_root; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

pg_sockdir() { printf '%s\n' "$POOL_VAR/pg/run"; }
pg_conninfo() { printf 'host=%s dbname=%s user=%s\n' "$POOL_VAR/pg/run" "$DB_NAME" "$DB_ROLE"; }

pg_init() {
    local bin data=$POOL_VAR/pg/data
    bin=$(pg_bindir) || return 1
    var_dirs
    mkdir -p "$POOL_VAR/pg" "$POOL_VAR/pg/run"
    chmod 0755 "$POOL_VAR/pg" "$POOL_VAR/pg/run"
    if is_root; then
        chown "$PG_USER": "$POOL_VAR/pg" "$POOL_VAR/pg/run"
    fi
    if [ -f "$data/PG_VERSION" ]; then
        return 0
    fi
    say "initdb $data"
    as_pg "$bin/initdb" -D "$data" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=reject ${POOL_PG_FAST:+--no-sync} \
        >"$POOL_VAR/pg/initdb.log" 2>&1 \
        || { cat "$POOL_VAR/pg/initdb.log" >&2; return 1; }
    {
        echo "# mod_pool private cluster: unix socket only"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$POOL_VAR/pg/run'"
        echo "unix_socket_permissions = 0777"
        echo "max_connections = 200"
        echo "logging_collector = off"
        if [ -n "${POOL_PG_FAST:-}" ]; then
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
        fi
    } | as_pg tee -a "$data/postgresql.conf" >/dev/null
}

pg_running() {
    local bin
    bin=$(pg_bindir) || return 1
    [ -f "$POOL_VAR/pg/data/PG_VERSION" ] || return 1
    as_pg "$bin/pg_ctl" -D "$POOL_VAR/pg/data" status >/dev/null 2>&1
}

pg_start() {
    local bin
    bin=$(pg_bindir) || return 1
    if pg_running; then
        return 0
    fi
    say "starting PostgreSQL (socket $POOL_VAR/pg/run)"
    as_pg "$bin/pg_ctl" -D "$POOL_VAR/pg/data" -l "$POOL_VAR/pg/postgresql.log" \
        -w -t 60 start >/dev/null \
        || { tail -n 30 "$POOL_VAR/pg/postgresql.log" >&2; return 1; }
}

pg_stop() {
    local bin
    bin=$(pg_bindir) || return 1
    if ! pg_running; then
        return 0
    fi
    say "stopping PostgreSQL"
    as_pg "$bin/pg_ctl" -D "$POOL_VAR/pg/data" -m fast -w -t 60 stop >/dev/null
}

# psql as the cluster's superuser: pg_psql [DB] ARGS...
pg_psql() {
    local bin db=${1:-postgres}
    shift || true
    bin=$(pg_bindir) || return 1
    "$bin/psql" -X -q -h "$POOL_VAR/pg/run" -U postgres -d "$db" -v ON_ERROR_STOP=1 "$@"
}

pg_createdb() {
    if [ "$(pg_psql postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$DB_ROLE'")" != 1 ]; then
        pg_psql postgres -c "CREATE ROLE $DB_ROLE LOGIN"
    fi
    if [ "$(pg_psql postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]; then
        say "creating database $DB_NAME"
        pg_psql postgres -c "CREATE DATABASE $DB_NAME OWNER $DB_ROLE ENCODING 'UTF8'"
    fi
}

# ---------------------------------------------------------------- keys, storage
keys() {
    local f=$POOL_VAR/pool-keys
    if [ ! -s "$f" ]; then
        say "generating a token key in $f"
        "$POOL_ROOT/jobs/poolctl" key generate "$f" >/dev/null || return 1
    fi
    if is_root; then
        chown root:"$HTTPD_GROUP" "$f"
        chmod 0640 "$f"
    fi
}

storage() {
    mkdir -p "$POOL_VAR/storage/.spool" "$POOL_VAR/dav"
    if is_root; then
        chown -R "$HTTPD_USER:$HTTPD_GROUP" "$POOL_VAR/storage" "$POOL_VAR/dav"
    fi
    chmod 0750 "$POOL_VAR/storage" "$POOL_VAR/dav"
}

# ---------------------------------------------------------------- httpd config
# $POOL_VAR/httpd-pool.conf from conf/httpd-pool.conf (the Debian sample, with
# the Pool* values, the mod_pool LoadModule path and the DAV paths replaced),
# and $POOL_VAR/httpd.conf from conf/httpd-local.conf.in.
render_conf() {
    local moddir user_lines sed_extra=()
    var_dirs
    moddir=$(apxs -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules)
    if [ -n "${POOL_MAX_FILE_SIZE:-}" ]; then
        sed_extra+=(-e "s|^\([[:space:]]*\)PoolMaxFileSize[[:space:]].*|\1PoolMaxFileSize $POOL_MAX_FILE_SIZE|")
    fi
    if [ -n "${POOL_TOKEN_LIFETIME:-}" ]; then
        sed_extra+=(-e "s|^\([[:space:]]*\)PoolTokenLifetime[[:space:]].*|\1PoolTokenLifetime $POOL_TOKEN_LIFETIME|")
    fi
    if [ -n "${POOL_OUTBOUND_ALLOW:-}" ]; then
        sed_extra+=(-e "s|^\([[:space:]]*\)#\{0,1\}PoolOutboundAllow[[:space:]].*|\1PoolOutboundAllow \"$POOL_OUTBOUND_ALLOW\"|")
    fi
    if [ -n "${POOL_STORE_URL:-}" ]; then
        # the WebDAV store; the /dav Alias below keeps the local directory
        sed_extra+=(-e "s|^\([[:space:]]*\)PoolStorage[[:space:]].*|\1PoolStorage $POOL_STORE_URL\n\1PoolStorageCredentials ${POOL_STORE_CREDENTIALS:-}|")
    else
        sed_extra+=(-e "s|^\([[:space:]]*\)PoolStorage[[:space:]].*|\1PoolStorage $POOL_VAR/storage|")
    fi
    sed -e "s|^\([[:space:]]*\)PoolDatabase[[:space:]].*|\1PoolDatabase \"$(pg_conninfo)\"|" \
        -e "s|^\([[:space:]]*\)PoolKeyFile[[:space:]].*|\1PoolKeyFile $POOL_VAR/pool-keys|" \
        -e "s|^\([[:space:]]*\)PoolPublicURL[[:space:]].*|\1PoolPublicURL http://127.0.0.1:$POOL_PORT|" \
        -e "s|^\([[:space:]]*\)LoadModule[[:space:]][[:space:]]*pool_module[[:space:]].*|\1LoadModule pool_module $POOL_ROOT/mod_pool/.libs/mod_pool.so|" \
        -e "s|^\([[:space:]]*\)DavLockDB[[:space:]].*|\1DavLockDB $POOL_VAR/dav/lockdb|" \
        -e "s|^\([[:space:]]*\)Alias[[:space:]][[:space:]]*/dav[[:space:]].*|\1Alias /dav $POOL_VAR/storage|" \
        -e "s|/var/lib/mod_pool/storage|$POOL_VAR/storage|g" \
        "${sed_extra[@]}" \
        "$POOL_ROOT/conf/httpd-pool.conf" >"$POOL_VAR/httpd-pool.conf.tmp"
    mv "$POOL_VAR/httpd-pool.conf.tmp" "$POOL_VAR/httpd-pool.conf"

    if is_root; then
        user_lines="User $HTTPD_USER\\nGroup $HTTPD_GROUP"
    else
        user_lines="# (not root: httpd keeps the current user)"
    fi
    sed -e "s|@PORT@|$POOL_PORT|g" \
        -e "s|@VAR@|$POOL_VAR|g" \
        -e "s|@ROOT@|$POOL_ROOT|g" \
        -e "s|@MODDIR@|$moddir|g" \
        -e "s|@USER_GROUP@|$user_lines|g" \
        "$POOL_ROOT/conf/httpd-local.conf.in" >"$POOL_VAR/httpd.conf.tmp"
    mv "$POOL_VAR/httpd.conf.tmp" "$POOL_VAR/httpd.conf"
}

# ---------------------------------------------------------------- httpd
httpd_pid() {
    local f=$POOL_VAR/run/httpd.pid pid
    [ -s "$f" ] || return 1
    pid=$(cat "$f")
    kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

port_busy() {
    # 0 when something accepts connections on 127.0.0.1:$1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

httpd_configtest() {
    "$APACHE2" -f "$POOL_VAR/httpd.conf" -t
}

httpd_start() {
    local i
    if httpd_pid >/dev/null; then
        say "httpd already running (pid $(httpd_pid))"
        return 0
    fi
    rm -f "$POOL_VAR/run/httpd.pid"
    if port_busy "$POOL_PORT"; then
        die "127.0.0.1:$POOL_PORT is already in use by another program (set POOL_PORT)"
    fi
    say "starting httpd on 127.0.0.1:$POOL_PORT"
    "$APACHE2" -f "$POOL_VAR/httpd.conf" -k start || {
        tail -n 20 "$POOL_VAR/log/error_log" >&2 2>/dev/null
        return 1
    }
    for i in $(seq 1 100); do
        if httpd_pid >/dev/null && port_busy "$POOL_PORT"; then
            return 0
        fi
        sleep 0.1
    done
    say "httpd did not come up; tail of $POOL_VAR/log/error_log:"
    tail -n 30 "$POOL_VAR/log/error_log" >&2 2>/dev/null
    return 1
}

httpd_stop() {
    local pid i
    pid=$(httpd_pid) || { rm -f "$POOL_VAR/run/httpd.pid"; return 0; }
    say "stopping httpd (pid $pid)"
    "$APACHE2" -f "$POOL_VAR/httpd.conf" -k stop 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "httpd (pid $pid) did not stop in 15 s; killing it"
        kill -KILL "$pid" 2>/dev/null
        sleep 0.5
    fi
    rm -f "$POOL_VAR/run/httpd.pid"
}

# Graceful restart: re-reads the configuration (and PoolKeyFile).
httpd_graceful() {
    "$APACHE2" -f "$POOL_VAR/httpd.conf" -k graceful
}

# ---------------------------------------------------------------- WebDAV store server
# A WebDAV server for the WebDAV store (PoolStorage http://...): Debian's
# apache2 with mod_dav + mod_dav_fs behind HTTP Basic (htpasswd), on a free
# loopback port, self-contained in DIR (default $POOL_VAR/store):
#   DIR/httpd.conf  run/ log/ lock/ (its DavLockDB)  htpasswd
#   DIR/data/       the collection http://127.0.0.1:PORT/store/
#   DIR/plain/      http://127.0.0.1:PORT/plain/: the same login, no DAV (a
#                   URL that is not a WebDAV collection, for the tests)
#   DIR/credentials "user:password" (0600; PoolStorageCredentials)
#   DIR/url         the store's URL (PoolStorage)   DIR/port
# and, for failure tests, http://127.0.0.1:PORT/full/ and /down/ answer
# every request with 507 and 503.  It is the store's own httpd, so it runs
# STORE_APACHE2 (default /usr/sbin/apache2), never the sanitizer wrapper.
STORE_APACHE2=${STORE_APACHE2:-/usr/sbin/apache2}
STORE_USER=pool-store

store_server_pid() {
    local f=$1/run/httpd.pid pid
    [ -s "$f" ] || return 1
    pid=$(cat "$f")
    kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

# store_server_start [DIR [PORT]]
store_server_start() {
    local dir=${1:-$POOL_VAR/store} port=${2:-} moddir pw user_lines i
    if store_server_pid "$dir" >/dev/null; then
        return 0
    fi
    mkdir -p "$dir/data" "$dir/plain" "$dir/lock" "$dir/run" "$dir/log" "$dir/htdocs"
    chmod 0755 "$dir"
    if is_root; then
        ensure_reachable "$HTTPD_USER" "$dir"
    fi
    if [ -z "$port" ]; then
        port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    fi
    moddir=$(apxs -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules)
    if [ ! -s "$dir/credentials" ] || [ ! -s "$dir/htpasswd" ]; then
        pw=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
        (umask 077 && printf '%s:%s\n' "$STORE_USER" "$pw" >"$dir/credentials")
        # apr1 (MD5): bcrypt would cost milliseconds on every request
        htpasswd -cbm "$dir/htpasswd" "$STORE_USER" "$pw" >/dev/null 2>&1 \
            || { say "htpasswd failed"; return 1; }
    fi
    chmod 0600 "$dir/credentials"
    chmod 0644 "$dir/htpasswd"
    if is_root; then
        user_lines="User $HTTPD_USER
Group $HTTPD_GROUP"
        chown -R "$HTTPD_USER:$HTTPD_GROUP" "$dir/data" "$dir/plain" "$dir/lock"
    else
        user_lines="# (not root: httpd keeps the current user)"
    fi
    cat >"$dir/httpd.conf" <<EOF
# A WebDAV store server (scripts/stack.sh store_server_start)
ServerRoot "$dir"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile $dir/run/httpd.pid
DefaultRuntimeDir $dir/run
Mutex file:$dir/run default
LoadModule mpm_event_module $moddir/mod_mpm_event.so
<IfModule !unixd_module>
    LoadModule unixd_module $moddir/mod_unixd.so
</IfModule>
LoadModule authz_core_module $moddir/mod_authz_core.so
LoadModule authn_core_module $moddir/mod_authn_core.so
LoadModule authn_file_module $moddir/mod_authn_file.so
LoadModule auth_basic_module $moddir/mod_auth_basic.so
LoadModule authz_user_module $moddir/mod_authz_user.so
LoadModule alias_module $moddir/mod_alias.so
<IfModule !log_config_module>
    LoadModule log_config_module $moddir/mod_log_config.so
</IfModule>
LoadModule dav_module $moddir/mod_dav.so
LoadModule dav_fs_module $moddir/mod_dav_fs.so
$user_lines
StartServers 1
ServerLimit 4
ThreadsPerChild 50
MaxRequestWorkers 200
MaxConnectionsPerChild 0
# the nodes stream large bodies: a generous gap between two packets
Timeout 300
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 5
ErrorLog $dir/log/error_log
LogLevel warn
LogFormat "%a %u %t \"%r\" %>s %B %D" store
CustomLog $dir/log/access_log store
DocumentRoot $dir/htdocs
<Directory />
    Options None
    AllowOverride None
    Require all denied
</Directory>
DavLockDB $dir/lock/DavLock
<Location />
    AuthType Basic
    AuthName "mod_pool store"
    AuthBasicProvider file
    AuthUserFile $dir/htpasswd
    Require valid-user
</Location>
Alias /store $dir/data
<Directory $dir/data>
    Dav On
    Options None
    AllowOverride None
    Require valid-user
    LimitRequestBody 0
</Directory>
Alias /plain $dir/plain
<Directory $dir/plain>
    Options None
    AllowOverride None
    Require valid-user
</Directory>
Redirect 507 /full
Redirect 503 /down
EOF
    printf 'http://127.0.0.1:%s/store/\n' "$port" >"$dir/url"
    printf '%s\n' "$port" >"$dir/port"
    "$STORE_APACHE2" -f "$dir/httpd.conf" -k start \
        || { tail -n 20 "$dir/log/error_log" >&2 2>/dev/null; return 1; }
    for i in $(seq 1 100); do
        if store_server_pid "$dir" >/dev/null && port_busy "$port"; then
            return 0
        fi
        sleep 0.1
    done
    say "the WebDAV store server did not come up; tail of $dir/log/error_log:"
    tail -n 30 "$dir/log/error_log" >&2 2>/dev/null
    return 1
}

# store_server_stop [DIR]
store_server_stop() {
    local dir=${1:-$POOL_VAR/store} pid i
    pid=$(store_server_pid "$dir") || { rm -f "$dir/run/httpd.pid"; return 0; }
    "$STORE_APACHE2" -f "$dir/httpd.conf" -k stop 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        sleep 0.5
    fi
    rm -f "$dir/run/httpd.pid"
}

migrate() {
    poolctl migrate
}

# ---------------------------------------------------------------- all of it
# Everything up to a running stack (the build must have been done).
stack_up() {
    var_dirs
    pg_init
    pg_start
    pg_createdb
    render_conf
    keys
    storage
    migrate
    httpd_start
}

stack_down() {
    local rc=0
    httpd_stop || rc=1
    pg_stop || rc=1
    return $rc
}

# Run as a command: bash scripts/stack.sh FUNC [ARGS...]
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    [ $# -ge 1 ] || die "usage: $0 FUNCTION [ARGS...]"
    fn=$1
    shift
    declare -F "$fn" >/dev/null || die "no such function: $fn"
    "$fn" "$@"
fi
