/*
 * The SASL users file: per user and SCRAM hash, the salt, iteration count,
 * StoredKey and ServerKey, never the password. One line per user and hash:
 *
 *     NAME MECHANISM ITERATIONS SALT STORED_KEY SERVER_KEY
 *
 * (base64 for the last three; '#' starts a comment line). basalt-passwd
 * writes it; the server loads it at start and again on SIGHUP. A loaded
 * table is replaced whole, under a mutex, so lookups from any thread see
 * either the old or the new table.
 */
#ifndef BASALT_AUTH_USERS_H
#define BASALT_AUTH_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "auth/scram.h"
#include "base/compiler.h"

/* One user with the credentials present for each hash. */
struct auth_user {
    char name[SCRAM_NAME_MAX + 1];
    bool has[SCRAM_NHASH];
    struct scram_cred cred[SCRAM_NHASH];
};

/* A parsed users file: an array of users (owned). */
struct auth_user_table {
    struct auth_user *users;
    size_t n, cap;
};

/*
 * Reads a users file into *t (initialised by this call). Returns 0, or -1
 * with "FILE:LINE: reason" in err. A missing file is an error.
 */
int auth_table_read(struct auth_user_table *t, const char *path, char *err,
                    size_t errlen) WARN_UNUSED;

/* Writes every user of t in the file format to f. 0 or -1. */
int auth_table_write(const struct auth_user_table *t, FILE *f) WARN_UNUSED;

/* The user named name, or NULL. */
struct auth_user *auth_table_find(const struct auth_user_table *t, const char *name);

/* Adds a user (or returns the existing one) named name; NULL when out of memory. */
struct auth_user *auth_table_add(struct auth_user_table *t, const char *name);

/* Removes the user named name; true when there was one. */
bool auth_table_remove(struct auth_user_table *t, const char *name);

/* Frees the table's memory and empties it. */
void auth_table_free(struct auth_user_table *t);

/* The users the server authenticates against: a table swapped whole on reload. */
struct auth_users;

/* Loads path (borrowed; must outlive the result). NULL with the reason in err. */
struct auth_users *auth_users_create(const char *path, char *err, size_t errlen) WARN_UNUSED;

/* Reads the file again; on failure keeps the old table and returns -1 with err. Any thread. */
int auth_users_reload(struct auth_users *u, char *err, size_t errlen) WARN_UNUSED;

/*
 * Copies the credential of user name for hash h into *out. When the user or
 * the hash is unknown, fills *out with a stand-in credential (a salt derived
 * from the name and a per-process secret, keys that match no password) and
 * returns false, so an unknown user looks like a wrong password. Any thread.
 */
bool auth_users_lookup(struct auth_users *u, const char *name, enum scram_hash h,
                       struct scram_cred *out);

/* Number of users loaded. */
size_t auth_users_count(struct auth_users *u);

/* Frees *u; *u = NULL. */
void auth_users_destroy(struct auth_users **u);

#endif
