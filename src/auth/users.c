/*
 * The users file: parsing and writing its lines (also used by
 * basalt-passwd), and the server's table, replaced whole on reload under a
 * mutex. auth_users_create runs on the main thread at start-up, reload on
 * the main thread (SIGHUP), lookups on workers.
 */
#include "auth/users.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/codec.h"

#define USERS_LINE_MAX 1024

struct auth_users {
    const char *path;     /* borrowed */
    pthread_mutex_t lock; /* guards table */
    struct auth_user_table table;
    uint8_t secret[32]; /* per process: salts for unknown users */
};

struct auth_user *auth_table_find(const struct auth_user_table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->users[i].name, name) == 0)
            return &t->users[i];
    }
    return NULL;
}

struct auth_user *auth_table_add(struct auth_user_table *t, const char *name)
{
    struct auth_user *u = auth_table_find(t, name);
    if (u != NULL)
        return u;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct auth_user *grown = realloc(t->users, cap * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        t->users = grown;
        t->cap = cap;
    }
    u = &t->users[t->n++];
    memset(u, 0, sizeof(*u));
    snprintf(u->name, sizeof(u->name), "%s", name);
    return u;
}

bool auth_table_remove(struct auth_user_table *t, const char *name)
{
    struct auth_user *u = auth_table_find(t, name);
    if (u == NULL)
        return false;
    *u = t->users[--t->n];
    return true;
}

void auth_table_free(struct auth_user_table *t)
{
    if (t->users != NULL)
        OPENSSL_cleanse(t->users, t->cap * sizeof(*t->users));
    free(t->users);
    memset(t, 0, sizeof(*t));
}

/* Decodes one base64 field into out; exactly want bytes unless want is 0 (then 1..cap). */
static int users_field(const char *s, uint8_t *out, size_t cap, size_t want, size_t *got)
{
    long n = auth_b64_decode(s, strlen(s), out, cap);
    if (n <= 0 || (want != 0 && (size_t)n != want))
        return -1;
    if (got != NULL)
        *got = (size_t)n;
    return 0;
}

/* Parses one non-comment line into t; returns NULL or the reason it is refused. */
static const char *users_parse_line(struct auth_user_table *t, char *line)
{
    char *save = NULL, *f[7];
    int n = 0;
    for (char *tok = strtok_r(line, " \t\r\n", &save); tok != NULL && n < 7;
         tok = strtok_r(NULL, " \t\r\n", &save))
        f[n++] = tok;
    if (n != 6)
        return "expected NAME MECHANISM ITERATIONS SALT STORED_KEY SERVER_KEY";
    if (strlen(f[0]) > SCRAM_NAME_MAX)
        return "user name too long";
    enum scram_hash h = scram_hash_by_name(f[1], strlen(f[1]));
    if (h == SCRAM_NHASH)
        return "unknown mechanism";
    char *end;
    errno = 0;
    unsigned long iter = strtoul(f[2], &end, 10);
    if (*end != '\0' || errno != 0 || iter == 0 || iter > 10000000)
        return "iterations must be a number from 1 to 10000000";
    struct scram_cred c = {.iterations = (unsigned)iter};
    size_t kl = scram_key_len(h);
    if (users_field(f[3], c.salt, sizeof(c.salt), 0, &c.saltlen) != 0 ||
        users_field(f[4], c.stored_key, sizeof(c.stored_key), kl, NULL) != 0 ||
        users_field(f[5], c.server_key, sizeof(c.server_key), kl, NULL) != 0)
        return "bad base64 or key length";
    struct auth_user *u = auth_table_add(t, f[0]);
    if (u == NULL)
        return "out of memory";
    u->has[h] = true;
    u->cred[h] = c;
    return NULL;
}

int auth_table_read(struct auth_user_table *t, const char *path, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[USERS_LINE_MAX];
    int lineno = 0;
    const char *why = NULL;
    while (why == NULL && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        size_t skip = strspn(line, " \t");
        if (line[skip] == '#' || line[skip] == '\n' || line[skip] == '\0')
            continue;
        why = strchr(line, '\n') == NULL && !feof(f) ? "line too long" : users_parse_line(t, line);
    }
    fclose(f);
    OPENSSL_cleanse(line, sizeof(line));
    if (why != NULL) {
        snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
        auth_table_free(t);
        return -1;
    }
    return 0;
}

int auth_table_write(const struct auth_user_table *t, FILE *f)
{
    fprintf(f, "# basalt users: NAME MECHANISM ITERATIONS SALT STORED_KEY SERVER_KEY\n");
    for (size_t i = 0; i < t->n; i++) {
        const struct auth_user *u = &t->users[i];
        for (int h = 0; h < SCRAM_NHASH; h++) {
            if (!u->has[h])
                continue;
            const struct scram_cred *c = &u->cred[h];
            size_t kl = scram_key_len((enum scram_hash)h);
            char salt[AUTH_B64_LEN(SCRAM_SALT_MAX) + 1], sk[AUTH_B64_LEN(SCRAM_KEY_MAX) + 1],
                vk[AUTH_B64_LEN(SCRAM_KEY_MAX) + 1];
            auth_b64_encode(c->salt, c->saltlen, salt);
            auth_b64_encode(c->stored_key, kl, sk);
            auth_b64_encode(c->server_key, kl, vk);
            fprintf(f, "%s %s %u %s %s %s\n", u->name, scram_mech_name((enum scram_hash)h),
                    c->iterations, salt, sk, vk);
        }
    }
    return ferror(f) ? -1 : 0;
}

struct auth_users *auth_users_create(const char *path, char *err, size_t errlen)
{
    struct auth_users *u = calloc(1, sizeof(*u));
    if (u == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    u->path = path;
    if (RAND_bytes(u->secret, sizeof(u->secret)) != 1 ||
        auth_table_read(&u->table, path, err, errlen) != 0) {
        if (err[0] == '\0')
            snprintf(err, errlen, "no random bytes");
        free(u);
        return NULL;
    }
    pthread_mutex_init(&u->lock, NULL);
    return u;
}

int auth_users_reload(struct auth_users *u, char *err, size_t errlen)
{
    struct auth_user_table fresh;
    if (auth_table_read(&fresh, u->path, err, errlen) != 0)
        return -1;
    pthread_mutex_lock(&u->lock);
    struct auth_user_table old = u->table;
    u->table = fresh;
    pthread_mutex_unlock(&u->lock);
    auth_table_free(&old);
    return 0;
}

/* A credential no password matches, with a salt that is stable for name. */
static void auth_users_stand_in(const struct auth_users *u, const char *name, enum scram_hash h,
                                struct scram_cred *out)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    memset(out, 0, sizeof(*out));
    HMAC(EVP_sha256(), u->secret, sizeof(u->secret), (const uint8_t *)name, strlen(name), mac,
         &len);
    out->saltlen = 16;
    memcpy(out->salt, mac, out->saltlen);
    out->iterations = SCRAM_DEFAULT_ITERATIONS;
    /* Keys from the secret's other half: no proof or password can match them. */
    memcpy(out->stored_key, mac + 16, 16);
    memcpy(out->server_key, u->secret, 16);
    (void)h;
}

bool auth_users_lookup(struct auth_users *u, const char *name, enum scram_hash h,
                       struct scram_cred *out)
{
    pthread_mutex_lock(&u->lock);
    const struct auth_user *user = auth_table_find(&u->table, name);
    bool found = user != NULL && user->has[h];
    if (found)
        *out = user->cred[h];
    pthread_mutex_unlock(&u->lock);
    if (!found)
        auth_users_stand_in(u, name, h, out);
    return found;
}

size_t auth_users_count(struct auth_users *u)
{
    pthread_mutex_lock(&u->lock);
    size_t n = u->table.n;
    pthread_mutex_unlock(&u->lock);
    return n;
}

void auth_users_destroy(struct auth_users **up)
{
    struct auth_users *u = *up;
    if (u == NULL)
        return;
    auth_table_free(&u->table);
    pthread_mutex_destroy(&u->lock);
    OPENSSL_cleanse(u->secret, sizeof(u->secret));
    free(u);
    *up = NULL;
}
