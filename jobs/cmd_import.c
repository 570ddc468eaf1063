/* poolctl client import POOL FILE --out CREDENTIALS: many clients in one
 * transaction, from CSV (a header line naming the columns name, role and
 * labels, the last two optional; labels as "k=v;k=v") or JSON (an array of
 * {"name", "role", "labels"}).  Their secrets go to CREDENTIALS, created
 * with mode 0600 and synced before the import commits: no client exists
 * whose secret was not written down. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "poolctl.h"
#include "pool_clients.h"
#include "pool_name.h"

#define IMPORT_FILE_MAX (64 * 1024 * 1024)
#define CSV_FIELDS_MAX  8

typedef struct {
    poolctl_t *ctl;
    apr_array_header_t *items;      /* pool_client_new_t */
    apr_hash_t *names;
    const char *role;               /* --role: for rows without one */
    const char *where;              /* "line 3", "item 2": for errors */
} import_t;

/* Checks one client and adds it; NULL or the reason. */
static const char *add_item(import_t *im, const char *name, const char *role,
                            json_t *labels)
{
    apr_pool_t *p = im->ctl->p;
    pool_client_new_t *in;
    const char *why;
    char *text;

    if (!name || (why = pool_ident_check(name)) != NULL) {
        return apr_psprintf(p, "name '%s': %s", poolctl_show(p, name ? name
                            : ""), name ? why : "is required");
    }
    if (apr_hash_get(im->names, name, APR_HASH_KEY_STRING)) {
        return apr_psprintf(p, "name '%s' appears twice", name);
    }
    if (!role || !*role) {
        role = im->role;
    }
    if (!role) {
        return "no role (give a role column or --role)";
    }
    if ((why = pool_role_check(role)) != NULL) {
        return apr_psprintf(p, "role '%s': %s", poolctl_show(p, role), why);
    }
    in = apr_array_push(im->items);
    in->name = name;
    in->role = role;
    in->labels = NULL;
    if (labels) {
        if ((why = pool_labels_check(p, labels, 0)) != NULL) {
            return why;
        }
        if (!(text = json_dumps(labels, JSON_COMPACT))) {
            return "out of memory";
        }
        in->labels = apr_pstrdup(p, text);
        free(text);
    }
    apr_hash_set(im->names, name, APR_HASH_KEY_STRING, name);
    return NULL;
}

static const char *from_json(import_t *im, const char *buf, apr_size_t len)
{
    json_error_t jerr;
    json_t *a = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr), *o;
    const char *why = NULL;
    size_t i;

    if (!a) {
        return apr_psprintf(im->ctl->p, "not JSON: line %d, column %d: %s",
                            jerr.line, jerr.column, jerr.text);
    }
    if (!json_is_array(a)) {
        json_decref(a);
        return "the JSON must be an array of {\"name\", \"role\", \"labels\"}";
    }
    json_array_foreach(a, i, o) {
        const char *k;
        json_t *v;

        im->where = apr_psprintf(im->ctl->p, "item %" APR_SIZE_T_FMT, (apr_size_t)(i + 1));
        if (!json_is_object(o)) {
            why = "not an object";
            break;
        }
        json_object_foreach(o, k, v) {
            if (strcmp(k, "name") && strcmp(k, "role") && strcmp(k, "labels")) {
                why = apr_psprintf(im->ctl->p, "unknown member '%s'",
                                   poolctl_show(im->ctl->p, k));
                break;
            }
        }
        if (why) {
            break;
        }
        v = json_object_get(o, "role");
        if (v && !json_is_string(v)) {
            why = "role must be a string";
            break;
        }
        why = add_item(im, apr_pstrdup(im->ctl->p, json_string_value(
                           json_object_get(o, "name"))),
                       v ? apr_pstrdup(im->ctl->p, json_string_value(v)) : NULL,
                       json_object_get(o, "labels"));
        if (why) {
            break;
        }
    }
    json_decref(a);
    return why;
}

/* Splits one CSV line (RFC 4180 quoting; a field may not span lines). */
static int csv_split(apr_pool_t *p, const char *line, const char **f, int max)
{
    int n = 0;

    for (;;) {
        const char *s = line;
        char *out;
        apr_size_t k = 0;

        if (n == max) {
            return -1;
        }
        out = apr_palloc(p, strlen(line) + 1);
        if (*s == '"') {
            for (s++; *s && !(*s == '"' && s[1] != '"'); s++) {
                out[k++] = *s;
                if (*s == '"') {
                    s++;                /* "" is one quote */
                }
            }
            if (*s != '"') {
                return -1;
            }
            s++;
            if (*s && *s != ',') {
                return -1;
            }
        }
        else {
            for (; *s && *s != ','; s++) {
                if (*s == '"') {
                    return -1;
                }
                out[k++] = *s;
            }
        }
        out[k] = '\0';
        f[n++] = out;
        if (!*s) {
            return n;
        }
        line = s + 1;
    }
}

static const char *csv_labels(import_t *im, const char *cell, json_t **labels)
{
    char *copy = apr_pstrdup(im->ctl->p, cell), *last, *kv;
    const char *why;

    *labels = json_object();
    for (kv = apr_strtok(copy, ";", &last); kv;
         kv = apr_strtok(NULL, ";", &last)) {
        if ((why = pool_label_parse(im->ctl->p, kv, labels)) != NULL) {
            return why;
        }
    }
    return NULL;
}

static const char *from_csv(import_t *im, char *buf)
{
    const char *f[CSV_FIELDS_MAX], *why = NULL;
    int col_name = -1, col_role = -1, col_labels = -1, n, i, lineno = 0;
    char *line, *last;

    for (line = apr_strtok(buf, "\n", &last); line && !why;
         line = apr_strtok(NULL, "\n", &last)) {
        apr_size_t len = strlen(line);
        json_t *labels = NULL;

        lineno++;
        im->where = apr_psprintf(im->ctl->p, "line %d", lineno);
        if (len && line[len - 1] == '\r') {
            line[--len] = '\0';
        }
        if (!len) {
            continue;
        }
        if ((n = csv_split(im->ctl->p, line, f, CSV_FIELDS_MAX)) < 0) {
            return "malformed CSV (or a field over several lines)";
        }
        if (col_name < 0) {
            for (i = 0; i < n; i++) {
                int *col = !strcmp(f[i], "name") ? &col_name
                         : !strcmp(f[i], "role") ? &col_role
                         : !strcmp(f[i], "labels") ? &col_labels : NULL;
                if (!col || *col >= 0) {
                    return apr_psprintf(im->ctl->p, "the header line names "
                                        "the columns: name, and optionally "
                                        "role and labels (not '%s')",
                                        poolctl_show(im->ctl->p, f[i]));
                }
                *col = i;
            }
            if (col_name < 0) {
                return "the header line must name a 'name' column";
            }
            continue;
        }
        if (col_labels >= 0 && col_labels < n && *f[col_labels]) {
            why = csv_labels(im, f[col_labels], &labels);
        }
        if (!why) {
            why = add_item(im, col_name < n ? f[col_name] : NULL,
                           col_role >= 0 && col_role < n ? f[col_role] : NULL,
                           labels);
        }
        json_decref(labels);
    }
    if (!why && col_name < 0) {
        im->where = "the file";
        why = "is empty";
    }
    return why;
}

typedef struct {
    poolctl_t *ctl;
    const char *path;
    int fd, json;
} creds_t;

/* Writes every secret to the credentials file and syncs it. */
static int creds_keep(void *baton, apr_array_header_t *clients,
                      apr_array_header_t *secrets, const char **err)
{
    creds_t *cr = baton;
    FILE *f = fdopen(dup(cr->fd), "w");
    int i, bad;

    if (!f) {
        *err = "cannot write the credentials file";
        return 1;
    }
    fputs(cr->json ? "[\n" : "client_id,secret,name,role\n", f);
    for (i = 0; i < clients->nelts; i++) {
        pool_client_t *cl = APR_ARRAY_IDX(clients, i, pool_client_t *);
        const char *secret = APR_ARRAY_IDX(secrets, i, const char *);

        /* ids, secrets (base64url), names and roles need no escaping */
        fprintf(f, cr->json ? "  {\"client_id\": \"%s\", \"secret\": \"%s\", "
                "\"name\": \"%s\", \"role\": \"%s\"}%s\n" : "%s,%s,%s,%s%s\n",
                cl->client_id, secret, cl->name, cl->role,
                cr->json && i + 1 < clients->nelts ? "," : "");
    }
    if (cr->json) {
        fputs("]\n", f);
    }
    bad = fflush(f) != 0 || ferror(f);
    bad |= fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad) {
        *err = apr_psprintf(cr->ctl->p, "cannot write %s", cr->path);
    }
    return bad;
}

/* Reads FILE whole (it is bounded); NULL after printing why. */
static char *read_input(poolctl_t *ctl, const char *path, apr_size_t *len)
{
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;
    apr_status_t rv;

    rv = apr_file_open(&f, path, APR_FOPEN_READ, 0, ctl->p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    }
    if (rv != APR_SUCCESS) {
        poolctl_err("client import: cannot read %s", poolctl_show(ctl->p,
                                                                  path));
        return NULL;
    }
    if (fi.size > IMPORT_FILE_MAX) {
        poolctl_err("client import: %s is larger than 64 MB", path);
        return NULL;
    }
    *len = (apr_size_t)fi.size;
    buf = apr_palloc(ctl->p, *len + 1);
    if (apr_file_read_full(f, buf, *len, NULL) != APR_SUCCESS) {
        poolctl_err("client import: cannot read %s", path);
        return NULL;
    }
    buf[*len] = '\0';
    apr_file_close(f);
    return buf;
}

int poolctl_client_import(poolctl_t *ctl, apr_array_header_t *pos,
                          const char *role, const char *out, int json)
{
    const char *pool, *path, *why, *err = NULL;
    import_t im;
    creds_t cr;
    apr_size_t len;
    pool_db_rc rc;
    PGconn *db;
    char *buf;
    int r;

    if (pos->nelts != 3 || !out) {
        return poolctl_usage("usage: client import POOL FILE --out "
                             "CREDENTIALS [--role ROLE] [--json]");
    }
    pool = APR_ARRAY_IDX(pos, 1, const char *);
    path = APR_ARRAY_IDX(pos, 2, const char *);
    if ((r = poolctl_check_ident(ctl->p, "pool", pool)) != POOLCTL_OK
        || (role && (r = poolctl_check_role(ctl->p, role)) != POOLCTL_OK)) {
        return r;
    }
    if (!(buf = read_input(ctl, path, &len))) {
        return POOLCTL_FAIL;
    }
    memset(&im, 0, sizeof(im));
    im.ctl = ctl;
    im.role = role;
    im.items = apr_array_make(ctl->p, 1024, sizeof(pool_client_new_t));
    im.names = apr_hash_make(ctl->p);
    im.where = "the file";
    cr.json = len > strspn(buf, " \t\r\n") && buf[strspn(buf, " \t\r\n")]
                                              == '[';
    why = cr.json ? from_json(&im, buf, len) : from_csv(&im, buf);
    if (!why && (im.items->nelts == 0 || im.items->nelts > POOL_IMPORT_MAX)) {
        why = apr_psprintf(ctl->p, "holds %d clients (1 to %d per import)",
                           im.items->nelts, POOL_IMPORT_MAX);
    }
    if (why) {
        poolctl_err("client import: %s: %s: %s", poolctl_show(ctl->p, path),
                    im.where, why);
        return POOLCTL_FAIL;
    }
    if (!(db = poolctl_db(ctl))) {
        return POOLCTL_FAIL;
    }
    cr.ctl = ctl;
    cr.path = out;
    cr.fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (cr.fd < 0) {
        poolctl_err("client import: cannot create %s (it must not exist)",
                    poolctl_show(ctl->p, out));
        return POOLCTL_FAIL;
    }
    rc = pool_client_import(ctl->p, db, pool, im.items, creds_keep, &cr,
                            &err);
    close(cr.fd);
    if (rc == POOL_DB_UNAVAILABLE) {
        /* the commit's outcome is unknown: keep the secrets */
        poolctl_err("client import: the database connection was lost (%s); "
                    "whether the import committed is unknown: see 'client "
                    "list %s'; the secrets are kept in %s", err, pool, out);
        return POOLCTL_FAIL;
    }
    if (rc != POOL_DB_OK) {
        unlink(out);
        if (rc == POOL_DB_NOTFOUND || rc == POOL_DB_CONFLICT) {
            poolctl_err("client import: %s; nothing was imported", err);
            return POOLCTL_FAIL;
        }
        return poolctl_db_error(rc, err);
    }
    if (json) {
        return poolctl_print_json(ctl, json_pack("{s:s, s:i, s:s}", "pool",
                                  pool, "imported", im.items->nelts,
                                  "credentials", out));
    }
    printf("imported %d clients into %s; their secrets are in %s\n",
           im.items->nelts, pool, out);
    return POOLCTL_OK;
}
