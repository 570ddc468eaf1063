# shellcheck shell=bash
# Shell functions shared by scripts/run-local, scripts/run-cluster,
# scripts/test and the integration tests (t/integration/conftest.py and
# test_cluster.py call `bash scripts/stack.sh FUNC`).
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
#   POOL_JOB_INTERVAL   seconds between two job rounds of a cluster's `poolctl run
#                       --every` loops (default 5)
#   POOL_CLUSTER_STORE  the nodes' storage in a cluster: dav (the WebDAV store
#                       server), dir (one shared local directory), or unset:
#                       dav when the built module knows PoolStorageCredentials,
#                       else dir (with a note)
#   BALANCER_PORT NODE1_PORT NODE2_PORT STORE_PORT
#                       a cluster's loopback ports (default: free ones, picked
#                       at each start)
#   POOL_CLUSTER_DB     the cluster's database (default mod_pool_cluster)
#   STORE_APACHE2       the httpd binary of the WebDAV store server
#                       (default /usr/sbin/apache2: plain Apache, never APACHE2)
#
# Layout of $POOL_VAR:
#   pg/data  pg/run (unix socket only)  pg/postgresql.log
#   storage/ (PoolStorage, DAV root)    dav/ (DavLockDB)
#   pool-keys  httpd.conf  httpd-pool.conf  run/ (pid, runtime files)  log/
#   cluster.env (scripts/run-cluster: URLs, ports, store credentials)
#   cluster/  (its database: mod_pool_cluster, on the same PostgreSQL)
#             node1/ node2/ (each: httpd.conf httpd-pool.conf run/ log/ dav/)
#             storage/ (the nodes' PoolStorage with POOL_CLUSTER_STORE=dir)
#             store/ (the WebDAV store server, store_server_start: httpd.conf
#                     data/ lock/ run/ log/ htpasswd credentials)
#             store-credentials (a copy the httpd User may read)
#             haproxy/ (haproxy.cfg haproxy.pid haproxy.log)  jobs/ (poolctl
#             run loops: pid files and logs)  processor/ (the demo round)
#             demo-credentials.json

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
python3-tuspy haproxy apache2-utils iproute2 clang libclang-rt-14-dev litmus rclone
davfs2 chromium"

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
    # node and npm run the tus-js-client interop tests (t/interop) and the
    # dashboard's browser tests (t/browser: playwright-core drives Debian's
    # chromium); any node install will do, Debian's when there is none
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
        say "make (the first build takes a minute or two; var/build/make.out)"
        make -j"$(nproc 2>/dev/null || echo 2)" >"$logs/make.out" 2>&1 &
        local mk=$! n
        # a sign of life every 10 s: how many files are compiled so far
        while ! wait_timeout "$mk" 10; do
            n=$(grep -cE '^  (CC|CCLD|GEN) ' "$logs/make.out" 2>/dev/null || true)
            say "make: ${n:-0} files compiled or linked so far"
        done
        wait "$mk" \
            || { say "make failed; the errors (all of it is in var/build/make.out):"
                 grep -E ': (fatal )?error|: undefined reference|\*\*\*' "$logs/make.out" | head -n 40 >&2
                 exit 1; }
        [ -f mod_pool/.libs/mod_pool.so ] || { say "mod_pool/.libs/mod_pool.so was not built"; exit 1; }
        [ -x jobs/poolctl ] || { say "jobs/poolctl was not built"; exit 1; }
    )
}

# wait_timeout PID SECONDS: 0 once PID (a child) has exited, 1 if it is
# still running after SECONDS (it is not waited for: call wait PID after).
wait_timeout() {
    local pid=$1 left=$(( $2 * 10 ))
    while [ "$left" -gt 0 ]; do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
        left=$((left - 1))
    done
    kill -0 "$pid" 2>/dev/null && return 1
    return 0
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
    mkdir -p "$POOL_VAR/storage/.spool"
    if is_root; then
        chown -R "$HTTPD_USER:$HTTPD_GROUP" "$POOL_VAR/storage"
    fi
    chmod 0750 "$POOL_VAR/storage"
}

# ---------------------------------------------------------------- httpd config
# $POOL_VAR/httpd-pool.conf from conf/httpd-pool.conf (the Debian sample, with
# the Pool* values and the mod_pool LoadModule path replaced),
# and $POOL_VAR/httpd.conf from conf/httpd-local.conf.in.
render_conf() {
    var_dirs
    # POOL_STORE_URL: the stack on a WebDAV store
    render_pool_conf "$POOL_VAR/httpd-pool.conf" "${POOL_STORE_URL:-$POOL_VAR/storage}" \
        "http://127.0.0.1:$POOL_PORT" "${POOL_STORE_URL:+${POOL_STORE_CREDENTIALS:-}}"
    render_httpd_conf "$POOL_VAR" "$POOL_PORT"
}

# render_pool_conf OUT STORAGE PUBLIC_URL [CREDENTIALS]:
# conf/httpd-pool.conf into OUT with PoolStorage STORAGE (a directory, or a
# WebDAV store's URL; then CREDENTIALS is its PoolStorageCredentials file)
# and the other Pool* values of this instance.
render_pool_conf() {
    local out=$1 storage=$2 public=$3 creds=${4:-}
    local sed_extra=()
    if [ -n "${POOL_MAX_FILE_SIZE:-}" ]; then
        sed_extra+=(-e "s|^\([[:space:]]*\)PoolMaxFileSize[[:space:]].*|\1PoolMaxFileSize $POOL_MAX_FILE_SIZE|")
    fi
    if [ -n "${POOL_TOKEN_LIFETIME:-}" ]; then
        sed_extra+=(-e "s|^\([[:space:]]*\)PoolTokenLifetime[[:space:]].*|\1PoolTokenLifetime $POOL_TOKEN_LIFETIME|")
    fi
    if [ -n "${POOL_OUTBOUND_ALLOW:-}" ]; then
        sed_extra+=(-e "s|^\([[:space:]]*\)#\{0,1\}PoolOutboundAllow[[:space:]].*|\1PoolOutboundAllow \"$POOL_OUTBOUND_ALLOW\"|")
    fi
    if [ -n "$creds" ]; then
        sed_extra+=(-e "s|^\([[:space:]]*\)PoolStorage[[:space:]].*|&\n\1PoolStorageCredentials $creds|")
    fi
    sed -e "s|^\([[:space:]]*\)PoolDatabase[[:space:]].*|\1PoolDatabase \"$(pg_conninfo)\"|" \
        -e "s|^\([[:space:]]*\)PoolStorage[[:space:]].*|\1PoolStorage $storage|" \
        -e "s|^\([[:space:]]*\)PoolKeyFile[[:space:]].*|\1PoolKeyFile $POOL_VAR/pool-keys|" \
        -e "s|^\([[:space:]]*\)PoolPublicURL[[:space:]].*|\1PoolPublicURL $public|" \
        -e "s|^\([[:space:]]*\)LoadModule[[:space:]][[:space:]]*pool_module[[:space:]].*|\1LoadModule pool_module $POOL_ROOT/mod_pool/.libs/mod_pool.so|" \
        -e "s|^\([[:space:]]*\)#\{0,1\}PoolDashboardDir[[:space:]].*|\1PoolDashboardDir \"$POOL_ROOT/dashboard\"|" \
        "${sed_extra[@]}" \
        "$POOL_ROOT/conf/httpd-pool.conf" >"$out.tmp"
    mv "$out.tmp" "$out"
}

# render_httpd_conf DIR PORT: conf/httpd-local.conf.in into DIR/httpd.conf,
# an httpd on 127.0.0.1:PORT whose ServerRoot, run/, log/ and htdocs/ are in
# DIR and which includes DIR/httpd-pool.conf.
render_httpd_conf() {
    local dir=$1 port=$2 moddir user_lines
    moddir=$(apache_moddir)
    if is_root; then
        user_lines="User $HTTPD_USER\\nGroup $HTTPD_GROUP"
    else
        user_lines="# (not root: httpd keeps the current user)"
    fi
    sed -e "s|@PORT@|$port|g" \
        -e "s|@VAR@|$dir|g" \
        -e "s|@ROOT@|$POOL_ROOT|g" \
        -e "s|@MODDIR@|$moddir|g" \
        -e "s|@USER_GROUP@|$user_lines|g" \
        "$POOL_ROOT/conf/httpd-local.conf.in" >"$dir/httpd.conf.tmp"
    mv "$dir/httpd.conf.tmp" "$dir/httpd.conf"
}

apache_moddir() { apxs -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules; }

# ---------------------------------------------------------------- httpd
# apache_pid PIDFILE: the pid of the httpd whose PidFile is PIDFILE, when it
# runs
apache_pid() { pidfile_pid "$1"; }

port_busy() {
    # 0 when something accepts connections on 127.0.0.1:$1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# apache_start WHAT BIN CONF PIDFILE PORT ERRLOG [HINT]: starts BIN -f CONF
# (an httpd on 127.0.0.1:PORT) and waits until it accepts connections
apache_start() {
    local what=$1 bin=$2 conf=$3 pidfile=$4 port=$5 errlog=$6 hint=${7:-for $1} i
    # running: its recorded pid lives and its port answers (a pid alone may
    # be another process's by now, after a kill -9 left the file behind)
    if apache_pid "$pidfile" >/dev/null && port_busy "$port"; then
        say "$what already running (pid $(apache_pid "$pidfile"))"
        return 0
    fi
    rm -f "$pidfile"
    if port_busy "$port"; then
        die "127.0.0.1:$port is already in use by another program ($hint)"
    fi
    say "starting $what on 127.0.0.1:$port"
    "$bin" -f "$conf" -k start || {
        tail -n 20 "$errlog" >&2 2>/dev/null
        return 1
    }
    for i in $(seq 1 100); do
        if apache_pid "$pidfile" >/dev/null && port_busy "$port"; then
            return 0
        fi
        sleep 0.1
    done
    say "$what did not come up; tail of $errlog:"
    tail -n 30 "$errlog" >&2 2>/dev/null
    return 1
}

# apache_stop WHAT BIN CONF PIDFILE: stops it, waiting up to 15 s (then
# SIGKILL for the whole process group: the parent and its children)
apache_stop() {
    local what=$1 bin=$2 conf=$3 pidfile=$4 pid i
    pid=$(apache_pid "$pidfile") || { rm -f "$pidfile"; return 0; }
    say "stopping $what (pid $pid)"
    "$bin" -f "$conf" -k stop 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 150); do
        proc_alive "$pid" || break
        sleep 0.1
    done
    if proc_alive "$pid"; then
        say "$what (pid $pid) did not stop in 15 s; killing it"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
        sleep 0.5
    fi
    rm -f "$pidfile"
}

httpd_pid() { apache_pid "$POOL_VAR/run/httpd.pid"; }

httpd_configtest() {
    "$APACHE2" -f "$POOL_VAR/httpd.conf" -t
}

httpd_start() {
    apache_start httpd "$APACHE2" "$POOL_VAR/httpd.conf" "$POOL_VAR/run/httpd.pid" \
        "$POOL_PORT" "$POOL_VAR/log/error_log" "set POOL_PORT"
}

httpd_stop() {
    apache_stop httpd "$APACHE2" "$POOL_VAR/httpd.conf" "$POOL_VAR/run/httpd.pid"
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

# ---------------------------------------------------------------- processes
# proc_alive PID: 0 when the process runs (a zombie, which has exited but
# was not yet reaped by its parent, does not)
proc_alive() {
    kill -0 "$1" 2>/dev/null || return 1
    [ "$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null)" != Z ]
}

# pidfile_pid PIDFILE: the pid recorded in PIDFILE, when that process runs
pidfile_pid() {
    local f=$1 pid
    [ -s "$f" ] || return 1
    pid=$(cat "$f")
    proc_alive "$pid" || return 1
    printf '%s\n' "$pid"
}

# daemon_start WHAT PIDFILE LOG CMD [ARGS...]: CMD in the background, in a
# session of its own (a Ctrl-C of the terminal does not reach it, and it
# outlives the script that started it), stdout and stderr appended to LOG,
# its pid in PIDFILE
daemon_start() {
    local what=$1 pidfile=$2 log=$3 i
    shift 3
    rm -f "$pidfile"
    # shellcheck disable=SC2016  # $$ and $@ are the inner shell's
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >>"$log" 2>&1 </dev/null &
    for i in $(seq 1 50); do
        [ -s "$pidfile" ] && break
        sleep 0.1
    done
    if ! pidfile_pid "$pidfile" >/dev/null; then
        say "$what did not start; tail of $log:"
        tail -n 20 "$log" >&2 2>/dev/null
        return 1
    fi
}

# daemon_stop WHAT PIDFILE: SIGTERM, up to 30 s to finish (a job step in
# progress), then SIGKILL
daemon_stop() {
    local what=$1 pidfile=$2 pid i
    pid=$(pidfile_pid "$pidfile") || { rm -f "$pidfile"; return 0; }
    say "stopping $what (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 300); do
        proc_alive "$pid" || break
        sleep 0.1
    done
    if proc_alive "$pid"; then
        say "$what (pid $pid) did not stop in 30 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$pidfile"
}

# free_ports N: N different loopback ports that are free now
free_ports() {
    /usr/bin/python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# ---------------------------------------------------------------- cluster
# scripts/run-cluster: a WebDAV store server, PostgreSQL, N httpd nodes with
# mod_pool sharing the database, the key file and the store, HAProxy in
# front of them, and a `poolctl run` loop per node, all on loopback.
# cluster_up starts it all and writes $POOL_VAR/cluster.env; cluster_down
# stops whatever of it runs (pid files), so it also cleans up after a
# run-cluster that was killed.
CLUSTER_DIR=$POOL_VAR/cluster
CLUSTER_ENV=$POOL_VAR/cluster.env
# a database of its own on the private PostgreSQL: run-local's database
# refers to files in run-local's storage, the cluster's to the cluster's
CLUSTER_DB_NAME=${POOL_CLUSTER_DB:-mod_pool_cluster}
CLUSTER_NODES="1 2"
POOL_JOB_INTERVAL=${POOL_JOB_INTERVAL:-5}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}

node_dir() { printf '%s\n' "$CLUSTER_DIR/node$1"; }
node_conf() { printf '%s\n' "$CLUSTER_DIR/node$1/httpd-pool.conf"; }
node_port() { local v="NODE$1_PORT"; printf '%s\n' "${!v}"; }
node_pid() { apache_pid "$CLUSTER_DIR/node$1/run/httpd.pid"; }
store_dir() { printf '%s\n' "$CLUSTER_DIR/store"; }
store_url() { printf 'http://127.0.0.1:%s/store/\n' "$STORE_PORT"; }
balancer_url() { printf 'http://127.0.0.1:%s\n' "$BALANCER_PORT"; }
store_pid() { store_server_pid "$CLUSTER_DIR/store"; }
haproxy_pid() { pidfile_pid "$CLUSTER_DIR/haproxy/haproxy.pid"; }

# cluster_load_env: the ports and the store mode of the running cluster (from
# cluster.env), for the functions called on their own (node_start N, ...)
cluster_load_env() {
    [ -f "$CLUSTER_ENV" ] || die "$CLUSTER_ENV not found: is the cluster up (scripts/run-cluster)?"
    # shellcheck disable=SC1090
    . "$CLUSTER_ENV"
}

# cluster_ports: BALANCER_PORT NODE1_PORT NODE2_PORT STORE_PORT from the
# environment, the others free ports; each must be free now
cluster_ports() {
    local name spare i=0 seen=" "
    read -r -a spare <<<"$(free_ports 8)"
    for name in BALANCER_PORT NODE1_PORT NODE2_PORT STORE_PORT; do
        if [ -n "${!name:-}" ]; then
            case ${!name} in
                *[!0-9]*) die "$name=${!name} is not a port number" ;;
            esac
            if port_busy "${!name}"; then
                die "127.0.0.1:${!name} ($name) is in use by another program: set $name to a free port, or unset it"
            fi
        else
            while case $seen in *" ${spare[$i]} "*) true ;; *) false ;; esac; do
                i=$((i + 1))
            done
            printf -v "$name" '%s' "${spare[$i]}"
            i=$((i + 1))
        fi
        case $seen in
            *" ${!name} "*) die "$name=${!name}: the same port twice" ;;
        esac
        seen="$seen${!name} "
        export "${name?}"
    done
}

# 0 when the built module and poolctl know PoolStorageCredentials (the
# remote WebDAV store)
cluster_dav_supported() {
    grep -aq PoolStorageCredentials "$POOL_ROOT/mod_pool/.libs/mod_pool.so" 2>/dev/null \
        && grep -aq PoolStorageCredentials "$POOL_ROOT/jobs/poolctl" 2>/dev/null
}

# cluster_store_mode: CLUSTER_STORE=dav|dir from POOL_CLUSTER_STORE (unset:
# dav when the build supports it, else dir, with a note)
cluster_store_mode() {
    case ${POOL_CLUSTER_STORE:-} in
        dir)
            CLUSTER_STORE=dir ;;
        dav)
            cluster_dav_supported || die "POOL_CLUSTER_STORE=dav, but this build of mod_pool does not know PoolStorageCredentials (the WebDAV store is not in it yet): use POOL_CLUSTER_STORE=dir"
            CLUSTER_STORE=dav ;;
        "")
            if cluster_dav_supported; then
                CLUSTER_STORE=dav
            else
                CLUSTER_STORE=dir
                say "note: this build of mod_pool does not know PoolStorageCredentials (no WebDAV store yet):"
                say "      the nodes share the directory $CLUSTER_DIR/storage instead (POOL_CLUSTER_STORE=dir);"
                say "      the WebDAV store server runs all the same, unused by the nodes"
            fi ;;
        *)
            die "POOL_CLUSTER_STORE=$POOL_CLUSTER_STORE: use dav or dir" ;;
    esac
}

# ---- the WebDAV store server: store_server_start (above), in
# CLUSTER_DIR/store on STORE_PORT; the nodes read a copy of its credentials
# that the httpd User may read (poolctl runs as that user)
store_start() {
    local d=$CLUSTER_DIR/store
    [ -n "${STORE_PORT:-}" ] || cluster_load_env
    store_server_start "$d" "$STORE_PORT" || die "the WebDAV store server did not start"
    cp "$d/credentials" "$CLUSTER_DIR/store-credentials.tmp"
    chmod 0600 "$CLUSTER_DIR/store-credentials.tmp"
    if is_root; then
        chown "$HTTPD_USER:$HTTPD_GROUP" "$CLUSTER_DIR/store-credentials.tmp"
    fi
    mv "$CLUSTER_DIR/store-credentials.tmp" "$CLUSTER_DIR/store-credentials"
}

store_stop() { store_server_stop "$CLUSTER_DIR/store"; }

# the store's password (its credentials are user:password)
store_password() { cut -d: -f2- "$CLUSTER_DIR/store/credentials"; }

# ---- the nodes
# node_render N: CLUSTER_DIR/nodeN/httpd.conf and httpd-pool.conf (CONF<N>,
# which poolctl reads): its own port, ServerRoot, PidFile and logs; the
# shared database, key file and storage; PoolPublicURL (the token issuer)
# is the balancer's URL on every node, so that any node accepts the tokens of
# any other
node_render() {
    local n=$1 d port
    d=$(node_dir "$n")
    port=$(node_port "$n")
    mkdir -p "$d" "$d/run" "$d/log" "$d/htdocs"
    chmod 0755 "$d"
    if [ "$CLUSTER_STORE" = dav ]; then
        render_pool_conf "$d/httpd-pool.conf" "$(store_url)" "$(balancer_url)" \
            "$CLUSTER_DIR/store-credentials"
    else
        render_pool_conf "$d/httpd-pool.conf" "$CLUSTER_DIR/storage" "$(balancer_url)"
    fi
    render_httpd_conf "$d" "$port"
    cat >>"$d/httpd.conf" <<EOF

# scripts/run-cluster: this node is behind HAProxy (option forwardfor); the
# logs show the client's address
<IfModule !remoteip_module>
    LoadModule remoteip_module $(apache_moddir)/mod_remoteip.so
</IfModule>
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy 127.0.0.1
EOF
}

node_configtest() { "$APACHE2" -f "$(node_dir "$1")/httpd.conf" -t; }

node_start() {
    local n=$1 d
    [ -n "${NODE1_PORT:-}" ] || cluster_load_env
    d=$(node_dir "$n")
    apache_start "node $n" "$APACHE2" "$d/httpd.conf" "$d/run/httpd.pid" "$(node_port "$n")" \
        "$d/log/error_log" "set NODE${n}_PORT"
}

node_stop() {
    local d
    d=$(node_dir "$1")
    apache_stop "node $1" "$APACHE2" "$d/httpd.conf" "$d/run/httpd.pid"
}

# cluster_storage: the nodes' shared directory (POOL_CLUSTER_STORE=dir)
cluster_storage() {
    mkdir -p "$CLUSTER_DIR/storage/.spool"
    if is_root; then
        chown -R "$HTTPD_USER:$HTTPD_GROUP" "$CLUSTER_DIR/storage"
    fi
    chmod 0750 "$CLUSTER_DIR/storage"
}

# ---- HAProxy
haproxy_render() {
    local d=$CLUSTER_DIR/haproxy ug="" n
    mkdir -p "$d"
    if is_root && id haproxy >/dev/null 2>&1; then
        ug="    user haproxy\\n    group haproxy"
    fi
    {
        sed -e "s|@BIND@|127.0.0.1:$BALANCER_PORT|g" -e "s|@USER_GROUP@|$ug|g" \
            "$POOL_ROOT/conf/haproxy-cluster.cfg.in"
        for n in $CLUSTER_NODES; do
            printf '    server node%s 127.0.0.1:%s\n' "$n" "$(node_port "$n")"
        done
    } >"$d/haproxy.cfg.tmp"
    mv "$d/haproxy.cfg.tmp" "$d/haproxy.cfg"
    "$HAPROXY" -c -q -f "$d/haproxy.cfg" \
        || { "$HAPROXY" -c -f "$d/haproxy.cfg" || true; die "haproxy -c failed for $d/haproxy.cfg"; }
}

haproxy_start() {
    local d=$CLUSTER_DIR/haproxy i
    if haproxy_pid >/dev/null; then
        say "HAProxy already running (pid $(haproxy_pid))"
        return 0
    fi
    if port_busy "$BALANCER_PORT"; then
        die "127.0.0.1:$BALANCER_PORT is already in use by another program (set BALANCER_PORT)"
    fi
    say "starting HAProxy on 127.0.0.1:$BALANCER_PORT (round-robin over nodes $CLUSTER_NODES)"
    daemon_start HAProxy "$d/haproxy.pid" "$d/haproxy.log" "$HAPROXY" -db -f "$d/haproxy.cfg" \
        || return 1
    for i in $(seq 1 100); do
        if haproxy_pid >/dev/null && port_busy "$BALANCER_PORT"; then
            return 0
        fi
        sleep 0.1
    done
    say "HAProxy did not come up; tail of $d/haproxy.log:"
    tail -n 20 "$d/haproxy.log" >&2 2>/dev/null
    return 1
}

haproxy_stop() { daemon_stop HAProxy "$CLUSTER_DIR/haproxy/haproxy.pid"; }

# balancer_status: "nodeN STATE" per node, as HAProxy's health checks see
# them (its status page, CSV)
balancer_status() {
    [ -n "${BALANCER_PORT:-}" ] || cluster_load_env
    curl -s --max-time 5 "$(balancer_url)/haproxy-stats;csv" \
        | awk -F, '$1 == "nodes" && $2 ~ /^node/ { print $2, $18 }'
}

# balancer_wait_up: until HAProxy sees every node up (30 s at most)
balancer_wait_up() {
    local i want
    want=$(echo "$CLUSTER_NODES" | wc -w)
    for i in $(seq 1 300); do
        if [ "$(balancer_status | grep -c ' UP$')" = "$want" ]; then
            return 0
        fi
        sleep 0.1
    done
    say "HAProxy does not see every node up:"
    balancer_status >&2
    return 1
}

# ---- the job loops: `poolctl run --every` with each node's configuration
cluster_jobs_start() {
    local n d=$CLUSTER_DIR/jobs
    mkdir -p "$d"
    for n in $CLUSTER_NODES; do
        if pidfile_pid "$d/node$n.pid" >/dev/null; then
            continue
        fi
        say "starting the job loop of node $n: poolctl -c $(node_conf "$n") run --every $POOL_JOB_INTERVAL"
        daemon_start "the job loop of node $n" "$d/node$n.pid" "$d/node$n.log" \
            "$POOL_ROOT/jobs/poolctl" -c "$(node_conf "$n")" run --every "$POOL_JOB_INTERVAL" \
            || return 1
    done
}

cluster_jobs_stop() {
    local n rc=0
    for n in $CLUSTER_NODES; do
        daemon_stop "the job loop of node $n" "$CLUSTER_DIR/jobs/node$n.pid" || rc=1
    done
    return $rc
}

# cluster_write_env: $POOL_VAR/cluster.env, shell KEY=value lines (0600:
# it holds the store's password)
cluster_write_env() {
    local n tmp=$CLUSTER_ENV.tmp
    (umask 077 && {
        echo "# written by scripts/run-cluster; for a shell: . $CLUSTER_ENV"
        printf 'BALANCER_URL=%q\n' "$(balancer_url)"
        for n in $CLUSTER_NODES; do
            printf 'NODE%s_URL=%q\n' "$n" "http://127.0.0.1:$(node_port "$n")"
        done
        printf 'STORE_URL=%q\n' "$(store_url)"
        printf 'STORE_USER=%q\n' "$STORE_USER"
        printf 'STORE_PASSWORD=%q\n' "$(store_password)"
        printf 'STORE_CREDENTIALS=%q\n' "$CLUSTER_DIR/store-credentials"
        for n in $CLUSTER_NODES; do
            printf 'CONF%s=%q\n' "$n" "$(node_conf "$n")"
        done
        printf 'CLUSTER_STORE=%q\n' "$CLUSTER_STORE"
        printf 'CLUSTER_DATABASE=%q\n' "$(pg_conninfo)"
        printf 'CLUSTER_DB_NAME=%q\n' "$CLUSTER_DB_NAME"
        printf 'BALANCER_PORT=%q\n' "$BALANCER_PORT"
        for n in $CLUSTER_NODES; do
            printf 'NODE%s_PORT=%q\n' "$n" "$(node_port "$n")"
        done
        printf 'STORE_PORT=%q\n' "$STORE_PORT"
        printf 'CLUSTER_DIR=%q\n' "$CLUSTER_DIR"
    } >"$tmp")
    mv "$tmp" "$CLUSTER_ENV"
}

# 0 when a part of the cluster runs
cluster_running() {
    local n
    for n in $CLUSTER_NODES; do
        node_pid "$n" >/dev/null && return 0
        pidfile_pid "$CLUSTER_DIR/jobs/node$n.pid" >/dev/null && return 0
    done
    haproxy_pid >/dev/null && return 0
    store_pid >/dev/null && return 0
    return 1
}

# cluster_up: everything, up to HAProxy seeing every node up (the build must
# have been done)
cluster_up() {
    local n err
    var_dirs
    mkdir -p "$CLUSTER_DIR"
    chmod 0755 "$CLUSTER_DIR"
    pg_init
    if ! pg_running; then
        pg_start
        : >"$CLUSTER_DIR/pg-started"    # cluster_down stops it again
    fi
    DB_NAME=$CLUSTER_DB_NAME
    pg_createdb
    keys
    cluster_ports
    cluster_store_mode
    store_start
    cluster_storage
    for n in $CLUSTER_NODES; do
        node_render "$n"
    done
    if [ "$CLUSTER_STORE" = dav ] && ! err=$(node_configtest 1 2>&1); then
        if [ -n "${POOL_CLUSTER_STORE:-}" ]; then
            printf '%s\n' "$err" >&2
            die "httpd -t failed for $(node_dir 1)/httpd.conf with PoolStorage $(store_url)"
        fi
        say "note: httpd -t refuses the WebDAV store configuration of this build:"
        printf '%s\n' "$err" | head -n 5 >&2
        say "      the nodes share the directory $CLUSTER_DIR/storage instead (POOL_CLUSTER_STORE=dir)"
        CLUSTER_STORE=dir
        for n in $CLUSTER_NODES; do
            node_render "$n"
        done
    fi
    for n in $CLUSTER_NODES; do
        node_configtest "$n" >/dev/null 2>&1 \
            || { node_configtest "$n" || true; die "httpd -t failed for $(node_dir "$n")/httpd.conf"; }
    done
    "$POOL_ROOT/jobs/poolctl" -c "$(node_conf 1)" migrate
    for n in $CLUSTER_NODES; do
        node_start "$n"
    done
    haproxy_render
    haproxy_start
    cluster_write_env
    balancer_wait_up
    cluster_jobs_start
}

# cluster_down: stops whatever of the cluster runs: job loops, HAProxy, the
# nodes, the store server, and PostgreSQL when cluster_up started it (unless
# the httpd of scripts/run-local uses it)
cluster_down() {
    local rc=0 n
    cluster_jobs_stop || rc=1
    haproxy_stop || rc=1
    for n in $CLUSTER_NODES; do
        node_stop "$n" || rc=1
    done
    store_stop || rc=1
    if [ -f "$CLUSTER_DIR/pg-started" ]; then
        if httpd_pid >/dev/null 2>&1; then
            say "PostgreSQL stays up: the httpd of scripts/run-local uses it"
        else
            pg_stop || rc=1
        fi
        rm -f "$CLUSTER_DIR/pg-started"
    fi
    return $rc
}

# ---------------------------------------------------------------- the demo
# The pool "demo" with one client of each role, and the demo round, for
# scripts/run-local and scripts/run-cluster.  Inputs (set by the caller
# before calling; defaults are run-local's):
#   DEMO_BASE   the server root the demo talks to (run-cluster: the balancer)
#   DEMO_CONF   the configuration poolctl reads
#   DEMO_WORKDIR, DEMO_LOG  pool-processor's work directory and log
# The caller keeps `stopping` (1 once a signal came) and `sleeper` (the pid
# of a sleep in progress, which its signal handler kills).
DEMO_CREDS=${DEMO_CREDS:-$POOL_VAR/demo-credentials.json}
DEMO_ROLES="uploader listener processor admin"
# the clients of the demo round (keys of $DEMO_CREDS)
DEMO_ROUND_UPLOADERS="round-uploader-1 round-uploader-2 round-uploader-3"
DEMO_ROUND_CLIENTS="$DEMO_ROUND_UPLOADERS round-processor"
DEMO_ROUND_VECTORS=("1 2 3" "2 4 6" "6 9 12")
# the clients of the README's by-hand round, in a pool of their own ("tour")
# so that the demo round's processor never takes its groups
DEMO_TOUR_UPLOADERS="tour-uploader-1 tour-uploader-2 tour-uploader-3"
DEMO_TOUR_CLIENTS="$DEMO_TOUR_UPLOADERS tour-processor"
DEMO_PYTHON=/usr/bin/python3
stopping=${stopping:-0}
sleeper=${sleeper:-}

demo_poolctl() { "$POOL_ROOT/jobs/poolctl" -c "${DEMO_CONF:-$POOL_VAR/httpd-pool.conf}" "$@"; }

# interruptible_sleep SECONDS: a sleep that the caller's signal handler ends
interruptible_sleep() {
    sleep "$1" &
    sleeper=$!
    wait "$sleeper" || true
    sleeper=""
}

# 0 when every key of $DEMO_CREDS named exists and its client is enabled
demo_creds_valid() { demo_creds_valid_in demo "$@"; }
# demo_creds_valid_in POOL KEY...: the same for the clients of POOL
demo_creds_valid_in() {
    [ -s "$DEMO_CREDS" ] || return 1
    local listed
    listed=$(demo_poolctl client list "$1" --json 2>/dev/null) || return 1
    shift
    "$DEMO_PYTHON" - "$DEMO_CREDS" "$listed" "$@" <<'EOF'
import json, sys
creds = json.load(open(sys.argv[1]))
listed = json.loads(sys.argv[2])
if isinstance(listed, dict):
    listed = listed.get("clients", [])
ok = {c.get("client_id") for c in listed if not c.get("disabled")}
sys.exit(0 if all(k in creds and creds[k]["client_id"] in ok for k in sys.argv[3:]) else 1)
EOF
}

# demo_add_client KEY ROLE [POOL]: a new client of pool demo (or POOL), kept
# under KEY in $DEMO_CREDS
demo_add_client() {
    local key=$1 role=$2 pool=${3:-demo} out tmp
    out=$(demo_poolctl client add "$pool" "$pool-$key-$(date +%s)" --role "$role" --json)
    tmp=$(mktemp)
    if [ -s "$DEMO_CREDS" ]; then cat "$DEMO_CREDS" >"$tmp"; else echo "{}" >"$tmp"; fi
    "$DEMO_PYTHON" - "$tmp" "$key" "$out" <<'EOF'
import json, sys
path, key, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
d = json.load(open(path))
d[key] = {"client_id": out["client_id"], "secret": out["secret"]}
json.dump(d, open(path, "w"), indent=2)
EOF
    install -m 0600 "$tmp" "$DEMO_CREDS"
    rm -f "$tmp"
}

# demo_setup: the pool demo and one client of each role (kept in $DEMO_CREDS;
# a second run reuses them)
demo_setup() {
    local role
    # shellcheck disable=SC2086
    if ! demo_creds_valid $DEMO_ROLES; then
        if ! demo_poolctl pool show demo >/dev/null 2>&1; then
            demo_poolctl pool create demo >/dev/null
        fi
        rm -f "$DEMO_CREDS"
        for role in $DEMO_ROLES; do
            demo_add_client "$role" "$role"
        done
        say "created pool demo and its clients ($DEMO_CREDS)"
    fi
}

# demo_tour_setup: the pool "tour" of the README's by-hand round (step 6),
# grouped by the minute with a quorum of three clients, and its clients
demo_tour_setup() {
    local key
    if ! demo_poolctl pool show tour >/dev/null 2>&1; then
        demo_poolctl pool create tour >/dev/null
    fi
    demo_poolctl pool set tour window=1m lateness=0 min_clients=3 result_timeout=2m >/dev/null
    # shellcheck disable=SC2086
    if ! demo_creds_valid_in tour $DEMO_TOUR_CLIENTS; then
        for key in $DEMO_TOUR_UPLOADERS; do
            demo_add_client "$key" uploader tour
        done
        demo_add_client tour-processor processor tour
        say "created pool tour and its clients for the README's round ($DEMO_CREDS)"
    fi
}

# demo_print_tour CONF: the variables the README's step 6 uses, to paste
demo_print_tour() {
    local conf=$1 i=1 key
    for key in $DEMO_TOUR_UPLOADERS; do
        printf '   TOKEN%d=$(jobs/poolctl -c %s client token %s)\n' "$i" "$conf" "$(demo_cred "$key" client_id)"
        i=$((i + 1))
    done
    printf '   PROC_ID=%s PROC_SECRET=%s\n' "$(demo_cred tour-processor client_id)" "$(demo_cred tour-processor secret)"
}

# demo_cred KEY FIELD: client_id or secret of the client kept under KEY
demo_cred() { "$DEMO_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' "$DEMO_CREDS" "$1" "$2"; }

# demo_print_clients: one line per role
demo_print_clients() {
    local role
    for role in $DEMO_ROLES; do
        printf '   %-10s client_id %s   secret %s\n' "$role" "$(demo_cred "$role" client_id)" "$(demo_cred "$role" secret)"
    done
}

# demo_print_tryit: copy-paste commands against $DEMO_BASE, as the uploader
demo_print_tryit() {
    local id secret
    id=$(demo_cred uploader client_id)
    secret=$(demo_cred uploader secret)
    cat <<EOF
   # a token for the uploader
   TOKEN=\$(curl -s -u '$id:$secret' -d grant_type=client_credentials \\
       $DEMO_BASE/pool/v1/token | sed -E 's/.*"access_token" *: *"([^"]+)".*/\1/')

   # upload a file with its event timestamp
   echo 'hello pool' > hello.txt
   curl -s -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: text/plain' \\
       -T hello.txt "$DEMO_BASE/pool/v1/pools/demo/files/hello.txt?ts=\$(date +%s)"

   # list, then download by id (the "id" printed by the upload)
   curl -s -H "Authorization: Bearer \$TOKEN" $DEMO_BASE/pool/v1/pools/demo/files
   curl -s -H "Authorization: Bearer \$TOKEN" -o hello-copy.txt $DEMO_BASE/pool/v1/pools/demo/files/ID

   # the WebDAV view of the pool (HTTP Basic with client_id:secret)
   curl -s -u '$id:$secret' -X PROPFIND -H 'Depth: 1' $DEMO_BASE/dav/demo/
EOF
}

# The demo round: the demo pool groups files by the minute and wants three
# uploading clients.  Three uploaders each send a vector for the current
# minute; pool-processor (pull mode) claims the group once `poolctl run` has
# grouped and triggered it, averages the vectors with scripts/demo-average
# and returns the mean; `poolctl run` publishes it; every uploader fetches it.
demo_round=""           # "": not started, waiting: for the result, finished, off
demo_round_before=0     # seq of the latest result before the round
demo_round_started=0
demo_agent_pid=""

demo_token() {    # demo_token KEY: a token of the client kept under KEY
    curl -s -u "$(demo_cred "$1" client_id):$(demo_cred "$1" secret)" -d grant_type=client_credentials \
        "$DEMO_BASE/pool/v1/token" | sed -nE 's/.*"access_token" *: *"([^"]+)".*/\1/p' || true
}

demo_latest_result() {   # demo_latest_result TOKEN: "SEQ URL NAME" of results/latest, or "0"
    curl -s -H "Authorization: Bearer $1" "$DEMO_BASE/pool/v1/pools/demo/results/latest" \
        | "$DEMO_PYTHON" -c 'import json, sys
try:
    r = json.load(sys.stdin)
    print(int(r["seq"]), r["url"], r["name"])
except Exception:
    print(0)' || true
}

demo_round_start() {
    local key i now start code tok err
    local workdir=${DEMO_WORKDIR:-$POOL_VAR/processor} log=${DEMO_LOG:-$POOL_VAR/log/pool-processor.log}
    demo_round=off
    if [ ! -x "$POOL_ROOT/jobs/pool-processor" ]; then
        say "demo round skipped: jobs/pool-processor was not built"
        return 0
    fi
    if ! err=$(demo_poolctl pool set demo window=1m lateness=0 min_clients=3 result_timeout=2m 2>&1 >/dev/null); then
        say "demo round skipped: poolctl pool set failed: $(printf '%s' "$err" | head -n 1)"
        return 0
    fi
    # shellcheck disable=SC2086
    if ! demo_creds_valid $DEMO_ROUND_CLIENTS; then
        for key in $DEMO_ROUND_UPLOADERS; do
            demo_add_client "$key" uploader
        done
        demo_add_client round-processor processor
        say "created the clients of the demo round ($DEMO_CREDS)"
    fi
    # the files are for the current minute: its group closes when the minute
    # ends (files of a minute already over would be late and not count for
    # the quorum, docs/rounds.md); too close to its end, take the next one
    now=$(date +%s)
    if [ $((now % 60)) -ge 50 ]; then
        interruptible_sleep $((60 - now % 60 + 1))
        [ "$stopping" = 0 ] || return 0
        now=$(date +%s)
    fi
    start=$((now - now % 60))
    tok=$(demo_token round-uploader-1)
    demo_round_before=$(demo_latest_result "$tok" | cut -d' ' -f1)
    i=0
    for key in $DEMO_ROUND_UPLOADERS; do
        tok=$(demo_token "$key")
        code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $tok" \
            -H 'Content-Type: text/plain' --data-binary "${DEMO_ROUND_VECTORS[$i]}" \
            "$DEMO_BASE/pool/v1/pools/demo/files/vector.txt?ts=$((start + 1))") || true
        if [ "$code" != 201 ]; then
            say "demo round stopped: the upload of $key answered $code"
            return 0
        fi
        i=$((i + 1))
    done
    mkdir -p "$(dirname "$log")"
    POOL_CLIENT_SECRET=$(demo_cred round-processor secret) "$POOL_ROOT/jobs/pool-processor" \
        --api "$DEMO_BASE/pool" --pool demo --client-id "$(demo_cred round-processor client_id)" \
        --workdir "$workdir" --every "$POOL_JOB_INTERVAL" \
        --result-name average.txt --result-type text/plain \
        -- "$POOL_ROOT/scripts/demo-average" >>"$log" 2>&1 &
    demo_agent_pid=$!
    demo_round=waiting
    demo_round_started=$(date +%s)
    cat <<EOF

 Demo round: $(echo "$DEMO_ROUND_UPLOADERS" | wc -w) uploaders sent [${DEMO_ROUND_VECTORS[0]}] [${DEMO_ROUND_VECTORS[1]}] [${DEMO_ROUND_VECTORS[2]}]
 for $(date -u -d "@$start" +%H:%M)-$(date -u -d "@$((start + 60))" +%H:%M) UTC. When that minute is over, poolctl run closes and
 triggers the group, pool-processor (pid $demo_agent_pid, log $log)
 runs scripts/demo-average on it, and poolctl run publishes the mean.  Waiting...
EOF
}

demo_round_check() {
    local key tok seq url name value now
    [ "$demo_round" = waiting ] || return 0
    tok=$(demo_token round-uploader-1)
    read -r seq url name <<<"$(demo_latest_result "$tok")"
    if [ "${seq:-0}" -gt "$demo_round_before" ]; then
        echo
        echo " Demo round: result $seq ($name) is published; every uploader fetches it:"
        for key in $DEMO_ROUND_UPLOADERS; do
            tok=$(demo_token "$key")
            read -r seq url name <<<"$(demo_latest_result "$tok")"
            value=$(curl -s -H "Authorization: Bearer $tok" "$DEMO_BASE$url") || true
            printf '   %-17s %s  GET %s -> %s\n' "$key" "$(demo_cred "$key" client_id)" "$url" "$value"
        done
        echo
        demo_round=finished
        return 0
    fi
    now=$(date +%s)
    if [ $((now - demo_round_started)) -gt 300 ]; then
        say "demo round: no result after 5 minutes; see ${DEMO_LOG:-$POOL_VAR/log/pool-processor.log}"
        demo_round=finished
    fi
}

# demo_round_stop: stops pool-processor
demo_round_stop() {
    if [ -n "$demo_agent_pid" ]; then
        say "stopping pool-processor (pid $demo_agent_pid)"
        kill -TERM "$demo_agent_pid" 2>/dev/null || true
        wait "$demo_agent_pid" 2>/dev/null || true
        demo_agent_pid=""
    fi
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
