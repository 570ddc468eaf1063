/* poolctl: the sysadmin and cron side of mod_pool.  One binary, one file
 * per subcommand; everything real happens in the core library (lib/). */
#ifndef POOLCTL_H
#define POOLCTL_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

#include "pool_conf.h"
#include "pool_db.h"
#include "pool_problem.h"
#include "pool_store.h"

/* Where the shared httpd config is looked for without -c or POOL_CONF. */
#ifndef POOLCTL_DEFAULT_CONF
#define POOLCTL_DEFAULT_CONF "/etc/apache2/conf-available/httpd-pool.conf"
#endif

/* Exit codes. */
#define POOLCTL_OK      0
#define POOLCTL_FAIL    1       /* runtime: not found, conflict, database */
#define POOLCTL_USAGE   2       /* bad command line or bad names */

typedef struct {
    apr_pool_t *p;
    const char *conf_path;      /* -c, POOL_CONF or the default */
    const char *conf_origin;    /* "-c", "POOL_CONF" or "default" */
    int verbose;                /* -v: info; -vv: debug */
    pool_conf_t conf;
    int conf_loaded;
    PGconn *db;                 /* opened by poolctl_db(), closed at exit */
} poolctl_t;

/* Option table for poolctl_getopt: "--name" (flag) or "--name VALUE" /
 * "--name=VALUE" (takes_arg).  short_name may be 0. */
typedef struct {
    const char *name;
    char short_name;
    int takes_arg;
    const char **value;         /* takes_arg */
    int *flag;                  /* !takes_arg */
    apr_array_header_t **values; /* takes_arg, repeatable: every value
                                  * (const char *), made on first use */
} poolctl_opt_t;

/* A subcommand: argv[0] is the command name.  Returns an exit code. */
typedef int poolctl_cmd_fn(poolctl_t *ctl, int argc, const char *const *argv);

typedef struct {
    const char *name;
    poolctl_cmd_fn *run;
    const char *usage;          /* lines for --help, "\n"-separated */
} poolctl_cmd_t;

/* Splits argv[1..] into options (of opts, plus -c/--config and -v which
 * may also come after the command) and positional arguments ("--" ends
 * options).
 * On a usage error prints it and returns POOLCTL_USAGE; else POOLCTL_OK. */
int poolctl_getopt(poolctl_t *ctl, int argc, const char *const *argv,
                   const poolctl_opt_t *opts, apr_array_header_t **pos);

/* "poolctl: " + message on stderr. */
void poolctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a usage error (and a hint) and returns POOLCTL_USAGE. */
int poolctl_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a database error and returns POOLCTL_FAIL. */
int poolctl_db_error(pool_db_rc rc, const char *err);

/* Reads the configuration (once); POOLCTL_OK or prints and POOLCTL_FAIL. */
int poolctl_conf(poolctl_t *ctl);
/* Config + connection (once); NULL after printing an error. */
PGconn *poolctl_db(poolctl_t *ctl);

/* A name or value made safe to echo in a message: bounded, no control
 * characters. */
const char *poolctl_show(apr_pool_t *p, const char *s);

/* Checks a pool or client name / role from the command line; prints the
 * reason and returns POOLCTL_USAGE, or POOLCTL_OK. */
int poolctl_check_ident(apr_pool_t *p, const char *what, const char *name);
int poolctl_check_role(apr_pool_t *p, const char *role);

/* Prints one JSON value (compact) plus newline on stdout; steals j.
 * POOLCTL_OK, or POOLCTL_FAIL after printing an error. */
int poolctl_print_json(poolctl_t *ctl, json_t *j);

/* Aligned columns on stdout: rows are arrays of const char * of equal
 * length, the first row is the header. */
void poolctl_print_table(apr_array_header_t *rows);
/* "key:  value" lines on stdout, values aligned; kv is NULL-terminated
 * pairs (a NULL value prints as "-"). */
void poolctl_print_fields(const char *const *kv);

/* One printer for what commands return (after mod_md's md_cmd): a command
 * builds its result as JSON and poolctl_render prints it, as compact JSON
 * with --json, else as text: an array of objects as a table with one
 * column per poolctl_col_t, an object as "key:  value" lines.  A cell is
 * the member `key` (a string as is, a number, true/false, an object as
 * k=v,k=v, null or absent as "-"), or fmt's text when fmt is set. */
typedef struct {
    const char *title;          /* column header or field name */
    const char *key;            /* member of each object */
    const char *(*fmt)(apr_pool_t *p, json_t *obj);
} poolctl_col_t;
/* cols ends with a { NULL } entry.  Steals data.  POOLCTL_OK, or
 * POOLCTL_FAIL after printing why (NULL data: out of memory). */
int poolctl_render(poolctl_t *ctl, json_t *data, const poolctl_col_t *cols,
                   int json);

/* An array of objects as CSV (a header line of the columns' keys, RFC 4180
 * quoting); steals data. */
int poolctl_render_csv(poolctl_t *ctl, json_t *data,
                       const poolctl_col_t *cols);

/* Files the job steps write or remove belong to the storage owner (the
 * httpd User): when run as root, switch to the owner of PoolStorage before
 * doing any work.  POOLCTL_OK, or POOLCTL_FAIL after printing why. */
int poolctl_become_storage_owner(poolctl_t *ctl);
/* The store PoolStorage names; NULL after printing why not. */
pool_store_t *poolctl_store(poolctl_t *ctl);

/* Subcommands. */
int poolctl_cmd_migrate(poolctl_t *ctl, int argc, const char *const *argv);
int poolctl_cmd_pool(poolctl_t *ctl, int argc, const char *const *argv);
int poolctl_cmd_client(poolctl_t *ctl, int argc, const char *const *argv);
int poolctl_cmd_enroll(poolctl_t *ctl, int argc, const char *const *argv);
/* client import POOL FILE --out FILE [--role ROLE] [--json] */
int poolctl_client_import(poolctl_t *ctl, apr_array_header_t *pos,
                          const char *role, const char *out, int json);
int poolctl_cmd_usage(poolctl_t *ctl, int argc, const char *const *argv);
int poolctl_cmd_key(poolctl_t *ctl, int argc, const char *const *argv);
int poolctl_cmd_run(poolctl_t *ctl, int argc, const char *const *argv);
int poolctl_cmd_deliveries(poolctl_t *ctl, int argc,
                           const char *const *argv);
int poolctl_cmd_endpoint(poolctl_t *ctl, int argc, const char *const *argv);

/* Shared by endpoint and deliveries (jobs/cmd_endpoint.c). */
/* s with control characters as '?', not cut (NULL stays NULL). */
const char *poolctl_text(apr_pool_t *p, const char *s);
/* Prints "what: detail" of a problem of lib/pool_endpoints.h (st its
 * status); POOLCTL_USAGE for 400/422 (bad input), else POOLCTL_FAIL. */
int poolctl_problem(poolctl_t *ctl, const char *what, int st,
                    const pool_problem_t *pr);
/* "ep_" + 24 hex digits, else prints why and POOLCTL_USAGE. */
int poolctl_endpoint_id_check(poolctl_t *ctl, const char *id);
/* FILE ("-": stdin) of at most max bytes, NUL-terminated; else prints
 * "what: ..." and POOLCTL_USAGE. */
int poolctl_read_file(poolctl_t *ctl, const char *what, const char *path,
                      apr_size_t max, const char **out, apr_size_t *len);
/* --since: RFC 3339 (with a 'T') or how long ago (a duration: 90, 30m,
 * 1h, 7d) as RFC 3339 in UTC; else prints why and POOLCTL_USAGE. */
int poolctl_since(poolctl_t *ctl, const char *what, const char *s,
                  const char **out);
int poolctl_cmd_sweep(poolctl_t *ctl, int argc, const char *const *argv);
int poolctl_cmd_results(poolctl_t *ctl, int argc, const char *const *argv);

#endif
