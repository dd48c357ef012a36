/*
 * basalt-passwd: adds, changes and removes users of a SASL users file. For
 * each user it stores, per SCRAM hash, a fresh random salt, the iteration
 * count and the derived StoredKey and ServerKey; the password itself is
 * never written. The password is read from standard input (one line), never
 * from the command line. The file is replaced atomically (written beside it,
 * then renamed) with mode 0600. Single-threaded. Like main.c this is a
 * composition root: it uses the auth module, which tools/ may not include.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/users.h"

#define PASSWD_SALT_BYTES 16
#define PASSWD_MAX 1024

static int usage(void)
{
    fprintf(stderr, "usage: basalt-passwd [-i ITERATIONS] FILE USER   (password on stdin)\n"
                    "       basalt-passwd -d FILE USER\n");
    return 2;
}

/* Reads the existing file, or starts an empty table when there is none. */
static int passwd_load(struct auth_user_table *t, const char *path)
{
    char err[512];
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        memset(t, 0, sizeof(*t));
        return 0;
    }
    if (auth_table_read(t, path, err, sizeof(err)) != 0) {
        fprintf(stderr, "basalt-passwd: %s\n", err);
        return -1;
    }
    return 0;
}

/* Writes t to path through a temporary file and a rename. */
static int passwd_save(const struct auth_user_table *t, const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int rc = f != NULL && auth_table_write(t, f) == 0 ? 0 : -1;
    if (f != NULL && fclose(f) != 0)
        rc = -1;
    else if (f == NULL && fd >= 0)
        close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0) {
        fprintf(stderr, "basalt-passwd: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
    }
    return rc;
}

/* One line from stdin without its line end; -1 when empty or missing. */
static int passwd_read(char *pw, size_t cap)
{
    if (fgets(pw, (int)cap, stdin) == NULL)
        return -1;
    pw[strcspn(pw, "\r\n")] = '\0';
    return pw[0] != '\0' ? 0 : -1;
}

/* Sets every SCRAM credential of user from password, each with its own salt. */
static int passwd_set(struct auth_user *u, const char *pw, unsigned iterations)
{
    for (int h = 0; h < SCRAM_NHASH; h++) {
        uint8_t salt[PASSWD_SALT_BYTES];
        if (RAND_bytes(salt, sizeof(salt)) != 1 ||
            scram_derive((enum scram_hash)h, pw, strlen(pw), salt, sizeof(salt), iterations,
                         &u->cred[h]) != 0)
            return -1;
        u->has[h] = true;
    }
    return 0;
}

/* Adds or changes user; the password comes from stdin. */
static int passwd_change(struct auth_user_table *t, const char *user, unsigned iterations)
{
    char pw[PASSWD_MAX];
    if (passwd_read(pw, sizeof(pw)) != 0) {
        fprintf(stderr, "basalt-passwd: no password on standard input\n");
        return -1;
    }
    struct auth_user *u = auth_table_add(t, user);
    int rc = u != NULL ? passwd_set(u, pw, iterations) : -1;
    OPENSSL_cleanse(pw, sizeof(pw));
    if (rc != 0)
        fprintf(stderr, "basalt-passwd: cannot derive the keys\n");
    return rc;
}

int main(int argc, char **argv)
{
    bool remove = false;
    unsigned long iterations = SCRAM_DEFAULT_ITERATIONS;
    int ch;
    while ((ch = getopt(argc, argv, "di:")) != -1) {
        char *end;
        if (ch == 'd') {
            remove = true;
        } else if (ch == 'i') {
            iterations = strtoul(optarg, &end, 10);
            if (*end != '\0' || iterations < 4096 || iterations > 10000000) {
                fprintf(stderr, "basalt-passwd: -i: 4096 to 10000000 iterations\n");
                return 2;
            }
        } else {
            return usage();
        }
    }
    if (argc - optind != 2)
        return usage();
    const char *path = argv[optind], *user = argv[optind + 1];
    if (user[0] == '\0' || strlen(user) > SCRAM_NAME_MAX || strpbrk(user, " \t\r\n#") != NULL) {
        fprintf(stderr, "basalt-passwd: a user name is 1 to %d characters without blanks\n",
                SCRAM_NAME_MAX);
        return 2;
    }
    struct auth_user_table t;
    if (passwd_load(&t, path) != 0)
        return 1;
    int rc = 0;
    if (remove && !auth_table_remove(&t, user)) {
        fprintf(stderr, "basalt-passwd: no user '%s' in %s\n", user, path);
        rc = -1;
    } else if (!remove) {
        rc = passwd_change(&t, user, (unsigned)iterations);
    }
    if (rc == 0)
        rc = passwd_save(&t, path);
    auth_table_free(&t);
    return rc == 0 ? 0 : 1;
}
