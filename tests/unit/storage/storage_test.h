/*
 * Test helpers for the storage module: a temporary data directory under
 * $TMPDIR removed afterwards, records built from strings, a visitor that
 * copies what recovery hands over, and byte-level file surgery (truncate,
 * flip, overwrite) to fake torn writes and corruption. Single thread.
 */
#ifndef BASALT_TESTS_UNIT_STORAGE_STORAGE_TEST_H
#define BASALT_TESTS_UNIT_STORAGE_STORAGE_TEST_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/store.h"

/* Makes a fresh directory under $TMPDIR (or /tmp) in buf; aborts on failure. */
static inline void test_dir_make(char *buf, size_t n)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, n, "%s/basalt-storage-XXXXXX", t && *t ? t : "/tmp");
    if (mkdtemp(buf) == NULL)
        abort();
}

/* Removes a data directory and every file in it. */
static inline void test_dir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        char path[1024];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/*
 * The cmocka teardown of the storage tests: each fixture is malloc'd and
 * starts with its directory path (char dir[...]), which is removed.
 */
static inline int test_teardown(void **state)
{
    char *dir = *state;
    test_dir_remove(dir);
    free(dir);
    return 0;
}

/* Counts the files of dir whose name ends with suffix. */
static inline int test_dir_count(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name), s = strlen(suffix);
        if (l >= s && strcmp(e->d_name + l - s, suffix) == 0)
            n++;
    }
    if (d != NULL)
        closedir(d);
    return n;
}

/* The path of segment segno (generation gen) of dir. */
static inline void test_seg_path(char *buf, size_t n, const char *dir, uint64_t segno, uint32_t gen)
{
    snprintf(buf, n, "%s/%016llx-%08x.seg", dir, (unsigned long long)segno, (unsigned)gen);
}

/* A record of key k and value v (NULL: a tombstone); strings stay borrowed. */
static inline struct store_record test_rec(const char *k, const char *v)
{
    struct store_record r = {.kind = v ? STORE_KIND_VALUE : STORE_KIND_TOMBSTONE,
                             .nkey = (uint8_t)strlen(k),
                             .key = k,
                             .value = v,
                             .nvalue = v ? (uint32_t)strlen(v) : 0,
                             .flags = 0xf1a95,
                             .cas = 77,
                             .exptime = 1900000000};
    return r;
}

/* A copy of a visited record. */
struct test_seen {
    uint64_t seq;
    uint8_t kind;
    char key[STORE_KEY_MAX + 1];
    char value[512];
    struct store_loc loc;
};

/* What a recovery scan handed over, in order. */
struct test_visits {
    struct test_seen *v;
    size_t n, cap;
};

/* A store_visit_fn that appends to a struct test_visits. */
static inline int test_visit(void *arg, const struct store_record *rec, const struct store_loc *loc)
{
    struct test_visits *t = arg;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->v = realloc(t->v, t->cap * sizeof(*t->v));
        if (t->v == NULL)
            abort();
    }
    struct test_seen *s = &t->v[t->n++];
    memset(s, 0, sizeof(*s));
    s->seq = rec->seq;
    s->kind = rec->kind;
    memcpy(s->key, rec->key, rec->nkey);
    if (rec->nvalue >= sizeof(s->value))
        abort();
    memcpy(s->value, rec->value, rec->nvalue);
    s->loc = *loc;
    return 0;
}

static inline void test_visits_free(struct test_visits *t)
{
    free(t->v);
    memset(t, 0, sizeof(*t));
}

/* Returns the visited record of highest seq for key, or NULL. */
static inline const struct test_seen *test_newest(const struct test_visits *t, const char *key)
{
    const struct test_seen *best = NULL;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].key, key) == 0 && (best == NULL || t->v[i].seq > best->seq))
            best = &t->v[i];
    return best;
}

/* Returns the size of a file, or -1. */
static inline long test_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Overwrites n bytes of a file at off; aborts on failure. */
static inline void test_file_write(const char *path, long off, const void *buf, size_t n)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0 || pwrite(fd, buf, n, off) != (ssize_t)n)
        abort();
    close(fd);
}

/* Flips the bits of one byte of a file. */
static inline void test_file_flip(const char *path, long off)
{
    unsigned char b;
    int fd = open(path, O_RDWR);
    if (fd < 0 || pread(fd, &b, 1, off) != 1)
        abort();
    b ^= 0xff;
    if (pwrite(fd, &b, 1, off) != 1)
        abort();
    close(fd);
}

/* Reads a whole file into a malloc'd buffer; *n is its size. */
static inline unsigned char *test_file_read(const char *path, size_t *n)
{
    long size = test_file_size(path);
    unsigned char *buf = malloc(size > 0 ? (size_t)size : 1);
    int fd = open(path, O_RDONLY);
    if (size < 0 || buf == NULL || fd < 0 || pread(fd, buf, (size_t)size, 0) != size)
        abort();
    close(fd);
    *n = (size_t)size;
    return buf;
}

/* Replaces a file's content with n bytes of buf. */
static inline void test_file_replace(const char *path, const void *buf, size_t n)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0 || (n > 0 && write(fd, buf, n) != (ssize_t)n))
        abort();
    close(fd);
}

#endif
