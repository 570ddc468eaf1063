/* The sql/ migrations, embedded into the library at build time by sql/embed.sh. */
#ifndef POOL_MIGRATIONS_H
#define POOL_MIGRATIONS_H

typedef struct {
    int version;                /* from the file name: 001_init.sql -> 1 */
    const char *name;           /* file name */
    const char *sql;
} pool_migration_t;

extern const pool_migration_t pool_migrations[];
extern const int pool_migrations_count;

#endif
