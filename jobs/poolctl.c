/* poolctl: main, option handling and what the subcommands share.
 *
 *   poolctl [-c FILE] [-v] COMMAND [ARGS]
 *
 * The configuration is the httpd config file of the module (its Pool*
 * directives), so there is one source of truth.  Data a script may parse
 * goes to stdout; messages and errors go to stderr, prefixed "poolctl: ".
 * Exit status: 0 success, 1 runtime failure, 2 usage error. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>

#include <apr_general.h>
#include <apr_lib.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_env.h>

#include "poolctl.h"
#include "pool_json.h"
#include "pool_log.h"
#include "pool_name.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static const poolctl_cmd_t commands[] = {
    { "migrate", poolctl_cmd_migrate,
      "migrate                            apply the database migrations not "
      "yet applied" },
    { "pool", poolctl_cmd_pool,
      "pool create NAME [--json]          create a pool\n"
      "pool list [--json]                 list the pools\n"
      "pool show NAME [--json]            show one pool and its settings\n"
      "pool set NAME KEY=VALUE... [--json]\n"
      "                                   change settings (window, lateness, "
      "quorum,\n"
      "                                   processor_url, ...; docs/rounds.md);"
      " KEY=\n"
      "                                   resets KEY; a new processor_url "
      "prints a new\n"
      "                                   processor secret (only this once)" },
    { "client", poolctl_cmd_client,
      "client add POOL NAME --role ROLE [--label KEY=VALUE]... [--json]\n"
      "                                   add a client to a pool; prints its "
      "client_id\n"
      "                                   and secret (the secret only this "
      "once)\n"
      "client list POOL [--role ROLE] [--label KEY=VALUE]... [--json]\n"
      "                                   list the clients of a pool (those "
      "with\n"
      "                                   that role and all those labels)\n"
      "client show CLIENT_ID [--json]     show one client\n"
      "client disable CLIENT_ID           disable a client: its secret stops "
      "working\n"
      "                                   (tokens already issued expire "
      "within\n"
      "                                   PoolTokenLifetime)\n"
      "client enable CLIENT_ID            enable a disabled client again\n"
      "client label CLIENT_ID KEY=VALUE|KEY=...\n"
      "                                   set labels (KEY= removes one)\n"
      "client secret CLIENT_ID [--grace DURATION] [--json]\n"
      "                                   give the client a new secret "
      "(shown once);\n"
      "                                   the old one works for --grace "
      "(default 0)\n"
      "client import POOL FILE --out CREDENTIALS [--role ROLE] [--json]\n"
      "                                   create many clients (CSV with a "
      "header\n"
      "                                   name,role,labels, or a JSON array) "
      "in one\n"
      "                                   transaction; their secrets go to "
      "CREDENTIALS\n"
      "                                   (a new file, mode 0600)\n"
      "client token CLIENT_ID [--json]    print an access token for the "
      "client, signed\n"
      "                                   with PoolKeyFile (as the token "
      "endpoint would)" },
    { "enroll", poolctl_cmd_enroll,
      "enroll create POOL --role ROLE [--uses N] [--expires DURATION]\n"
      "              [--label KEY=VALUE]... [--json]\n"
      "                                   make an enrollment key (shown once) "
      "with which\n"
      "                                   applications register as clients "
      "(default\n"
      "                                   --expires 7d, no limit on uses)\n"
      "enroll list POOL [--json]          the pool's enrollment keys\n"
      "enroll show POOL KEY_ID [--json]   one key and how often it was used\n"
      "enroll revoke POOL KEY_ID          revoke a key: no more clients with "
      "it" },
    { "usage", poolctl_cmd_usage,
      "usage POOL [--from DAY] [--to DAY] [--by day|client] [--csv|--json]\n"
      "                                   the pool's usage per day or per "
      "client (days\n"
      "                                   YYYY-MM-DD, UTC; default: this month)"
    },
    { "key", poolctl_cmd_key,
      "key generate FILE                  append a new token signing key to "
      "FILE\n"
      "                                   (created with mode 0600); prints its "
      "kid" },
    { "run", poolctl_cmd_run,
      "run [--once | --every SECONDS] [STEP...]\n"
      "                                   run the job steps (default: all, "
      "once);\n"
      "                                   steps: group, trigger, expire, "
      "fetch, publish,\n"
      "                                   deliver, sizes, usage, sweep "
      "(sweep only when\n"
      "                                   named)" },
    { "endpoint", poolctl_cmd_endpoint,
      "endpoint add POOL URL [--event E]... [--filter P=V]... [--auth AUTH]\n"
      "             [--auth-file FILE] [--retry W,W,...] [--rate N]\n"
      "             [--mapping FILE] [--success FILE] [--description D] "
      "[--json]\n"
      "                                   add a webhook endpoint; prints it "
      "and its\n"
      "                                   signing secret (only this once); "
      "AUTH: none,\n"
      "                                   bearer:TOKEN, basic:USER:PASS, "
      "header:NAME:VALUE\n"
      "endpoint list POOL [--json]        the pool's endpoints\n"
      "endpoint show POOL ID [--json]     one endpoint (never its secrets)\n"
      "endpoint set POOL ID [--url URL] [options of add]... [--json]\n"
      "                                   change an endpoint (an empty value "
      "resets\n"
      "                                   an option to its default)\n"
      "endpoint disable|enable POOL ID    stop or resume its deliveries\n"
      "endpoint rotate POOL ID [--grace DURATION] [--json]\n"
      "                                   a new signing secret (shown once); "
      "the old one\n"
      "                                   signs too for --grace (default 0, "
      "at most 7d)\n"
      "endpoint rm POOL ID                remove an endpoint (its delivery "
      "log stays)\n"
      "endpoint preview POOL ID [--event TYPE|FILE] [--mapping FILE] "
      "[--json]\n"
      "                                   the request an event would make, "
      "not sent" },
    { "deliveries", poolctl_cmd_deliveries,
      "deliveries list [POOL] [--endpoint ID] [--status S] [--event E]\n"
      "                [--since T] [--limit N] [--json]\n"
      "                                   outbound webhooks, newest first "
      "(every pool\n"
      "                                   without POOL); S: pending, "
      "delivered, failed\n"
      "deliveries show [POOL] ID [--json] one delivery and every attempt "
      "(request,\n"
      "                                   response)\n"
      "deliveries retry [POOL] ID         make a pending or failed delivery "
      "due now\n"
      "deliveries recover POOL ENDPOINT --since T\n"
      "                                   every failed delivery of the "
      "endpoint since T\n"
      "                                   (RFC 3339, or ago: 1h, 7d) is due "
      "again" },
    { "results", poolctl_cmd_results,
      "results retry ID | --all           publish again a result whose "
      "publication\n"
      "                                   failed (--all: every such result)"
      " now" },
    { "sweep", poolctl_cmd_sweep,
      "sweep [--json] [--min-age SECONDS] [--pool NAME]\n"
      "                                   remove expired resumable uploads, "
      "stale upload and\n"
      "                                   spool data, files past their pool's "
      "retention; move\n"
      "                                   files without a row to .lost+found; "
      "report rows\n"
      "                                   whose bytes are missing" },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    unsigned int i;

    fprintf(out,
            "Usage: poolctl [-c FILE] [-v] COMMAND [ARGS]\n"
            "\n"
            "Administers mod_pool: the database schema, pools, clients and "
            "token keys.\n"
            "\n"
            "Commands:\n");
    for (i = 0; i < N_COMMANDS; i++) {
        const char *s = commands[i].usage;

        while (*s) {
            const char *nl = strchr(s, '\n');
            int n = nl ? (int)(nl - s) : (int)strlen(s);

            fprintf(out, "  %.*s\n", n, s);
            s += n + (nl ? 1 : 0);
        }
    }
    fprintf(out,
            "  help                               show this text\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE   the httpd config file holding the Pool* "
            "directives\n"
            "                      (Include/IncludeOptional are followed); "
            "default:\n"
            "                      $POOL_CONF, else\n"
            "                      " POOLCTL_DEFAULT_CONF "\n"
            "  -v, --verbose       more messages on stderr (twice for "
            "debugging)\n"
            "  --json              JSON output on stdout (where listed "
            "above)\n"
            "  -h, --help          show this text\n"
            "  --version           show the version\n"
            "\n"
            "Roles: uploader, listener, processor, admin.\n"
            "Names of pools and clients: [a-z0-9][a-z0-9_-]{0,62}.\n"
            "Exit status: 0 success; 1 failure (not found, already exists, "
            "database);\n"
            "2 usage error (bad command line, name or setting).\n");
}

/* ---- messages */

void poolctl_err(const char *fmt, ...)
{
    va_list ap;

    fputs("poolctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int poolctl_usage(const char *fmt, ...)
{
    va_list ap;

    fputs("poolctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(see poolctl --help)\n", stderr);
    return POOLCTL_USAGE;
}

int poolctl_db_error(pool_db_rc rc, const char *err)
{
    if (rc == POOL_DB_UNAVAILABLE) {
        poolctl_err("database unavailable: %s", err ? err : "unknown error");
    }
    else {
        poolctl_err("%s", err ? err : "database error");
    }
    return POOLCTL_FAIL;
}

const char *poolctl_show(apr_pool_t *p, const char *s)
{
    return pool_conf_show(p, s);
}

int poolctl_check_ident(apr_pool_t *p, const char *what, const char *name)
{
    const char *why = pool_ident_check(name);

    if (why) {
        return poolctl_usage("invalid %s name '%s': %s", what,
                             poolctl_show(p, name), why);
    }
    return POOLCTL_OK;
}

int poolctl_check_role(apr_pool_t *p, const char *role)
{
    const char *why = pool_role_check(role);

    if (why) {
        return poolctl_usage("invalid role '%s': %s", poolctl_show(p, role),
                             why);
    }
    return POOLCTL_OK;
}

/* Library log messages: stderr, filtered by -v. */
static void log_stderr(void *baton, int level, const char *msg)
{
    poolctl_t *ctl = baton;
    int max = POOL_LOG_NOTICE + (ctl ? ctl->verbose : 0);

    if (level > max) {
        return;
    }
    fprintf(stderr, "poolctl: %s%s\n",
            level <= POOL_LOG_ERR ? "error: "
                                  : level == POOL_LOG_WARN ? "warning: " : "",
            msg);
}

/* ---- output */

int poolctl_print_json(poolctl_t *ctl, json_t *j)
{
    char *s = j ? pool_json_dump(ctl->p, j) : NULL;

    if (j) {
        json_decref(j);
    }
    if (!s) {
        poolctl_err("cannot build JSON output");
        return POOLCTL_FAIL;
    }
    fputs(s, stdout);
    fputc('\n', stdout);
    return POOLCTL_OK;
}

void poolctl_print_table(apr_array_header_t *rows)
{
    apr_array_header_t *first;
    int *width;
    int ncols, i, j;

    if (!rows || rows->nelts == 0) {
        return;
    }
    first = APR_ARRAY_IDX(rows, 0, apr_array_header_t *);
    ncols = first->nelts;
    width = calloc((size_t)ncols + 1, sizeof(int));
    if (!width) {
        return;
    }
    for (i = 0; i < rows->nelts; i++) {
        apr_array_header_t *row = APR_ARRAY_IDX(rows, i, apr_array_header_t *);

        for (j = 0; j < ncols && j < row->nelts; j++) {
            const char *cell = APR_ARRAY_IDX(row, j, const char *);
            int n = cell ? (int)strlen(cell) : 1;

            if (n > width[j]) {
                width[j] = n;
            }
        }
    }
    for (i = 0; i < rows->nelts; i++) {
        apr_array_header_t *row = APR_ARRAY_IDX(rows, i, apr_array_header_t *);

        for (j = 0; j < ncols && j < row->nelts; j++) {
            const char *cell = APR_ARRAY_IDX(row, j, const char *);

            if (!cell) {
                cell = "-";
            }
            if (j == ncols - 1) {
                fputs(cell, stdout);
            }
            else {
                printf("%-*s  ", width[j], cell);
            }
        }
        fputc('\n', stdout);
    }
    free(width);
}

/* The text of one member for poolctl_render. */
static const char *render_cell(apr_pool_t *p, json_t *obj,
                               const poolctl_col_t *col)
{
    json_t *v;

    if (col->fmt) {
        return col->fmt(p, obj);
    }
    v = json_object_get(obj, col->key);
    switch (json_typeof(v)) {
    case JSON_STRING:
        return poolctl_show(p, json_string_value(v));
    case JSON_INTEGER:
        return apr_psprintf(p, "%" APR_INT64_T_FMT,
                            (apr_int64_t)json_integer_value(v));
    case JSON_REAL:
        return apr_psprintf(p, "%g", json_real_value(v));
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_OBJECT: {
        const char *k, *out = NULL;
        json_t *e;

        json_object_foreach(v, k, e) {
            const char *kv = apr_pstrcat(p, k, "=", json_is_string(e)
                                         ? json_string_value(e) : "?", NULL);
            out = out ? apr_pstrcat(p, out, ",", kv, NULL) : kv;
        }
        return out ? poolctl_show(p, out) : NULL;
    }
    default:
        return NULL;
    }
}

int poolctl_render(poolctl_t *ctl, json_t *data, const poolctl_col_t *cols,
                   int json)
{
    apr_array_header_t *rows, *row;
    const char **kv;
    size_t i;
    int ncols, j;

    if (!data) {
        poolctl_err("out of memory");
        return POOLCTL_FAIL;
    }
    if (json) {
        return poolctl_print_json(ctl, data);
    }
    for (ncols = 0; cols[ncols].title; ncols++) {
    }
    if (json_is_array(data)) {
        rows = apr_array_make(ctl->p, (int)json_array_size(data) + 1,
                              sizeof(apr_array_header_t *));
        row = apr_array_make(ctl->p, ncols, sizeof(const char *));
        for (j = 0; j < ncols; j++) {
            APR_ARRAY_PUSH(row, const char *) = cols[j].title;
        }
        APR_ARRAY_PUSH(rows, apr_array_header_t *) = row;
        for (i = 0; i < json_array_size(data); i++) {
            row = apr_array_make(ctl->p, ncols, sizeof(const char *));
            for (j = 0; j < ncols; j++) {
                APR_ARRAY_PUSH(row, const char *) =
                    render_cell(ctl->p, json_array_get(data, i), &cols[j]);
            }
            APR_ARRAY_PUSH(rows, apr_array_header_t *) = row;
        }
        if (json_array_size(data) > 0) {
            poolctl_print_table(rows);
        }
    }
    else {
        kv = apr_pcalloc(ctl->p, sizeof(char *) * (2 * ncols + 1));
        for (j = 0; j < ncols; j++) {
            kv[2 * j] = cols[j].title;
            kv[2 * j + 1] = render_cell(ctl->p, data, &cols[j]);
        }
        poolctl_print_fields(kv);
    }
    json_decref(data);
    fflush(stdout);
    return POOLCTL_OK;
}

int poolctl_render_csv(poolctl_t *ctl, json_t *data,
                       const poolctl_col_t *cols)
{
    size_t i;
    int j;

    if (!json_is_array(data)) {
        json_decref(data);
        poolctl_err("out of memory");
        return POOLCTL_FAIL;
    }
    for (j = 0; cols[j].title; j++) {
        printf("%s%s", j ? "," : "", cols[j].key ? cols[j].key
                                                 : cols[j].title);
    }
    fputc('\n', stdout);
    for (i = 0; i < json_array_size(data); i++) {
        for (j = 0; cols[j].title; j++) {
            const char *cell = render_cell(ctl->p, json_array_get(data, i),
                                           &cols[j]);
            const char *c;

            fputs(j ? "," : "", stdout);
            if (!cell) {
                continue;
            }
            if (!strpbrk(cell, ",\"\r\n")) {
                fputs(cell, stdout);
                continue;
            }
            fputc('"', stdout);
            for (c = cell; *c; c++) {
                if (*c == '"') {
                    fputc('"', stdout);
                }
                fputc(*c, stdout);
            }
            fputc('"', stdout);
        }
        fputc('\n', stdout);
    }
    json_decref(data);
    fflush(stdout);
    return POOLCTL_OK;
}

void poolctl_print_fields(const char *const *kv)
{
    int i, w = 0;

    for (i = 0; kv[i]; i += 2) {
        int n = (int)strlen(kv[i]);
        if (n > w) {
            w = n;
        }
    }
    for (i = 0; kv[i]; i += 2) {
        printf("%s:%*s  %s\n", kv[i], w - (int)strlen(kv[i]), "",
               kv[i + 1] ? kv[i + 1] : "-");
    }
}

/* ---- options */

static int take_config(poolctl_t *ctl, const char *v)
{
    if (!v || !*v) {
        return poolctl_usage("option -c/--config needs a file name");
    }
    ctl->conf_path = v;
    ctl->conf_origin = "-c";
    return POOLCTL_OK;
}

int poolctl_getopt(poolctl_t *ctl, int argc, const char *const *argv,
                   const poolctl_opt_t *opts, apr_array_header_t **pos)
{
    int i, only_pos = 0;

    *pos = apr_array_make(ctl->p, argc > 0 ? argc : 1, sizeof(const char *));
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const poolctl_opt_t *o = NULL, *it;
        const char *val = NULL;
        int has_val = 0;

        if (only_pos || a[0] != '-' || a[1] == '\0') {
            APR_ARRAY_PUSH(*pos, const char *) = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            ctl->verbose++;
            continue;
        }
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            apr_size_t n = eq ? (apr_size_t)(eq - name) : strlen(name);

            if (eq) {
                val = eq + 1;
                has_val = 1;
            }
            if (n == 6 && !strncmp(name, "config", 6)) {
                if (!has_val) {
                    if (i + 1 >= argc) {
                        return take_config(ctl, NULL);
                    }
                    val = argv[++i];
                }
                if (take_config(ctl, val) != POOLCTL_OK) {
                    return POOLCTL_USAGE;
                }
                continue;
            }
            for (it = opts; it && it->name; it++) {
                if (strlen(it->name) == n && !strncmp(it->name, name, n)) {
                    o = it;
                    break;
                }
            }
        }
        else {
            if (a[1] == 'c') {
                if (a[2]) {
                    val = a + 2;
                }
                else if (i + 1 < argc) {
                    val = argv[++i];
                }
                if (take_config(ctl, val) != POOLCTL_OK) {
                    return POOLCTL_USAGE;
                }
                continue;
            }
            if (a[2] == '\0') {
                for (it = opts; it && it->name; it++) {
                    if (it->short_name && it->short_name == a[1]) {
                        o = it;
                        break;
                    }
                }
            }
        }
        if (!o) {
            return poolctl_usage("%s: unknown option '%s'", argv[0],
                                 poolctl_show(ctl->p, a));
        }
        if (o->takes_arg) {
            if (!has_val) {
                if (i + 1 >= argc) {
                    return poolctl_usage("%s: option --%s needs a value",
                                         argv[0], o->name);
                }
                val = argv[++i];
            }
            if (o->values) {
                if (!*o->values) {
                    *o->values = apr_array_make(ctl->p, 4,
                                                sizeof(const char *));
                }
                APR_ARRAY_PUSH(*o->values, const char *) = val;
            }
            else {
                *o->value = val;
            }
        }
        else {
            if (has_val) {
                return poolctl_usage("%s: option --%s takes no value",
                                     argv[0], o->name);
            }
            *o->flag = 1;
        }
    }
    return POOLCTL_OK;
}

/* ---- config, db */

int poolctl_conf(poolctl_t *ctl)
{
    const char *err = NULL;
    apr_status_t rv;

    if (ctl->conf_loaded) {
        return POOLCTL_OK;
    }
    pool_conf_defaults(&ctl->conf);
    rv = pool_conf_read(ctl->p, ctl->conf_path, &ctl->conf, &err);
    if (rv != APR_SUCCESS) {
        poolctl_err("%s", err ? err : "cannot read the configuration");
        if (APR_STATUS_IS_ENOENT(rv) && !strcmp(ctl->conf_origin, "default")) {
            poolctl_err("give the httpd config file with the Pool* "
                        "directives with -c FILE or POOL_CONF");
        }
        return POOLCTL_FAIL;
    }
    pool_log(POOL_LOG_INFO, "configuration read from %s (%s)",
             ctl->conf_path, ctl->conf_origin);
    ctl->conf_loaded = 1;
    return POOLCTL_OK;
}

PGconn *poolctl_db(poolctl_t *ctl)
{
    const char *err = NULL;

    if (ctl->db) {
        return ctl->db;
    }
    if (poolctl_conf(ctl) != POOLCTL_OK) {
        return NULL;
    }
    ctl->db = pool_db_connect(ctl->p, ctl->conf.database, &err);
    if (!ctl->db) {
        poolctl_err("%s", err ? err : "cannot connect to the database");
        return NULL;
    }
    /* the job loops and a fan-out run the same statements again and again:
     * prepared once, as httpd's are (without the cache they still run) */
    (void)pool_db_cache_statements(ctl->db);
    return ctl->db;
}

pool_store_t *poolctl_store(poolctl_t *ctl)
{
    const char *err = NULL;
    pool_store_t *st;

    if (!ctl->conf.storage) {
        poolctl_err("PoolStorage is not set in %s", ctl->conf_path);
        return NULL;
    }
    st = pool_store_create(ctl->p, ctl->conf.storage,
                           ctl->conf.storage_credentials, &err);
    if (!st) {
        poolctl_err("PoolStorage %s: %s", ctl->conf.storage, err);
    }
    return st;
}

int poolctl_become_storage_owner(poolctl_t *ctl)
{
    struct stat st;

    /* a remote store has no owner here: stay who we are */
    if (geteuid() != 0 || !ctl->conf.storage
        || strstr(ctl->conf.storage, "://")) {
        return POOLCTL_OK;
    }
    if (stat(ctl->conf.storage, &st) != 0) {
        poolctl_err("PoolStorage %s: cannot stat it", ctl->conf.storage);
        return POOLCTL_FAIL;
    }
    if (st.st_uid == 0) {
        return POOLCTL_OK;
    }
    if (setgroups(0, NULL) != 0 || setgid(st.st_gid) != 0
        || setuid(st.st_uid) != 0) {
        poolctl_err("cannot switch to the owner of %s (uid %ld)",
                    ctl->conf.storage, (long)st.st_uid);
        return POOLCTL_FAIL;
    }
    pool_log(POOL_LOG_INFO, "running as uid %ld, the owner of PoolStorage",
             (long)st.st_uid);
    return POOLCTL_OK;
}

/* ---- main */

static const poolctl_cmd_t *find_command(const char *name)
{
    unsigned int i;

    for (i = 0; i < N_COMMANDS; i++) {
        if (!strcmp(commands[i].name, name)) {
            return &commands[i];
        }
    }
    return NULL;
}

/* -h/--help anywhere before "--" means help. */
static int wants_help(int argc, const char *const *argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            return 0;
        }
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            return 1;
        }
    }
    return 0;
}

int main(int argc, const char *const *argv)
{
    poolctl_t ctl;
    const poolctl_cmd_t *cmd;
    char *env = NULL;
    int i, rc;

    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS) {
        fputs("poolctl: cannot initialise APR\n", stderr);
        return POOLCTL_FAIL;
    }
    atexit(apr_terminate);

    memset(&ctl, 0, sizeof(ctl));
    if (apr_pool_create(&ctl.p, NULL) != APR_SUCCESS) {
        fputs("poolctl: out of memory\n", stderr);
        return POOLCTL_FAIL;
    }
    pool_log_set(log_stderr, &ctl);

    ctl.conf_path = POOLCTL_DEFAULT_CONF;
    ctl.conf_origin = "default";
    if (apr_env_get(&env, "POOL_CONF", ctl.p) == APR_SUCCESS && env && *env) {
        ctl.conf_path = env;
        ctl.conf_origin = "POOL_CONF";
    }

    if (wants_help(argc, argv)) {
        usage(stdout);
        return POOLCTL_OK;
    }
    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            if (take_config(&ctl, i + 1 < argc ? argv[++i] : NULL)
                != POOLCTL_OK) {
                return POOLCTL_USAGE;
            }
        }
        else if (!strncmp(a, "--config=", 9) || !strncmp(a, "-c", 2)) {
            if (take_config(&ctl, a[1] == 'c' ? a + 2 : a + 9)
                != POOLCTL_OK) {
                return POOLCTL_USAGE;
            }
        }
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            ctl.verbose++;
        }
        else if (!strcmp(a, "-vv")) {
            ctl.verbose += 2;
        }
        else if (!strcmp(a, "--version")) {
            printf("poolctl (mod_pool) %s\n", PACKAGE_VERSION);
            return POOLCTL_OK;
        }
        else {
            return poolctl_usage("unknown option '%s'",
                                 poolctl_show(ctl.p, a));
        }
    }
    if (i >= argc) {
        usage(stderr);
        return POOLCTL_USAGE;
    }
    if (!strcmp(argv[i], "help")) {
        usage(stdout);
        return POOLCTL_OK;
    }
    cmd = find_command(argv[i]);
    if (!cmd) {
        return poolctl_usage("unknown command '%s'",
                             poolctl_show(ctl.p, argv[i]));
    }
    rc = cmd->run(&ctl, argc - i, argv + i);

    if (ctl.db) {
        PQfinish(ctl.db);
        ctl.db = NULL;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        poolctl_err("cannot write to standard output");
        rc = POOLCTL_FAIL;
    }
    apr_pool_destroy(ctl.p);
    return rc;
}
