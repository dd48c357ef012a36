/*
 * Fault-aware file I/O of the storage module: positioned writes, fsyncs of
 * files and of the data directory, segment file names, and the injection
 * of write/fsync failures and crash points (struct store_faults). Every
 * failure is recorded in the store_io with its errno and a message that
 * names the file. Runs on whichever thread calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "storage/store_internal.h"

int store_io_fail(struct store_io *io, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(io->error, sizeof(io->error), fmt, ap);
    va_end(ap);
    io->sys_errno = err;
    if (err != 0) {
        size_t n = strlen(io->error);
        snprintf(io->error + n, sizeof(io->error) - n, ": %s", strerror(err));
    }
    return -1;
}

/* Writes the n low hex digits of v, lowercase, most significant first. */
static char *put_hex(char *p, uint64_t v, int n)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = n - 1; i >= 0; i--, v >>= 4)
        p[i] = digits[v & 15u];
    return p + n;
}

/* By hand, not snprintf: every append and fsync names its segment (for its error message). */
void store_seg_name(char buf[STORE_NAME_MAX], uint64_t segno, uint32_t gen, bool tmp)
{
    char *p = put_hex(buf, segno, 16);
    *p++ = '-';
    p = put_hex(p, gen, 8);
    memcpy(p, tmp ? ".seg.tmp" : ".seg", tmp ? 9 : 5);
}

/* Parses exactly n lowercase hex digits. */
static int parse_hex(const char *p, int n, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9')
            v = v << 4 | (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v << 4 | (uint64_t)(c - 'a' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

int store_seg_parse(const char *name, uint64_t *segno, uint32_t *gen, bool *tmp)
{
    uint64_t g = 0;
    if (strlen(name) < 29 || parse_hex(name, 16, segno) != 0 || name[16] != '-' ||
        parse_hex(name + 17, 8, &g) != 0 || strncmp(name + 25, ".seg", 4) != 0)
        return -1;
    if (strcmp(name + 29, "") == 0)
        *tmp = false;
    else if (strcmp(name + 29, ".tmp") == 0)
        *tmp = true;
    else
        return -1;
    *gen = (uint32_t)g;
    return 0;
}

/* True when the counted operation number n is armed to fail. */
static bool fault_hits(uint64_t n, uint64_t at, uint64_t count)
{
    if (at == 0)
        return false;
    return n >= at && n - at < (count == 0 ? 1 : count);
}

/* Writes at most limit bytes of iov at off (iov consumed); 0 or -1 with errno. */
static int write_all(int fd, struct iovec *iov, int iovcnt, uint64_t off, uint64_t limit)
{
    while (iovcnt > 0 && limit > 0) {
        if (iov->iov_len == 0) {
            iov++;
            iovcnt--;
            continue;
        }
        int cnt = iovcnt < IOV_MAX ? iovcnt : IOV_MAX;
        size_t saved = 0;
        if (iov->iov_len > limit) { /* only a partial (injected) write gets here */
            saved = iov->iov_len;
            iov->iov_len = (size_t)limit;
            cnt = 1;
        }
        ssize_t r = pwritev(fd, iov, cnt, (off_t)off);
        if (saved != 0)
            iov->iov_len = saved;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) {
            errno = EIO; /* no progress: treat as a failed device */
            return -1;
        }
        off += (uint64_t)r;
        limit -= (uint64_t)r;
        for (size_t left = (size_t)r; left > 0;) {
            size_t take = left < iov->iov_len ? left : iov->iov_len;
            /* An empty entry (an empty value) may have a NULL base: NULL + 0 is undefined. */
            if (take > 0)
                iov->iov_base = (char *)iov->iov_base + take;
            iov->iov_len -= take;
            left -= take;
            if (iov->iov_len == 0) {
                iov++;
                iovcnt--;
            }
        }
    }
    return 0;
}

int store_io_write(struct store_io *io, int fd, struct iovec *iov, int iovcnt, uint64_t off,
                   const char *what)
{
    struct store_faults *f = io->faults;
    if (f != NULL && fault_hits(++f->writes, f->write_fail_at, f->write_fail_n)) {
        uint64_t total = 0;
        for (int i = 0; i < iovcnt; i++)
            total += iov[i].iov_len;
        /* A full disk accepts part of a write before it fails. */
        (void)write_all(fd, iov, iovcnt, off, total / 2);
        return store_io_fail(io, f->write_errno ? f->write_errno : EIO,
                             "write %s/%s at %" PRIu64 " (injected)", io->dir, what, off);
    }
    if (write_all(fd, iov, iovcnt, off, UINT64_MAX) != 0)
        return store_io_fail(io, errno, "write %s/%s at %" PRIu64, io->dir, what, off);
    return 0;
}

int store_io_sync(struct store_io *io, int fd, bool dir, const char *what)
{
    struct store_faults *f = io->faults;
    if (f != NULL && fault_hits(++f->fsyncs, f->fsync_fail_at, f->fsync_fail_n))
        return store_io_fail(io, f->fsync_errno ? f->fsync_errno : EIO, "fsync %s/%s (injected)",
                             io->dir, what);
    int r = dir ? fsync(fd) : fdatasync(fd);
    if (r != 0)
        return store_io_fail(io, errno, "fsync %s/%s", io->dir, what);
    return 0;
}

int store_io_sync_dir(struct store_io *io)
{
    return store_io_sync(io, io->dirfd, true, ".");
}

ssize_t store_io_pread(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

bool store_io_crash(const struct store_io *io, enum store_crash p)
{
    return io->faults != NULL && io->faults->crash_at == p && p != STORE_CRASH_NONE;
}

int store_io_unlink(struct store_io *io, const char *name)
{
    if (unlinkat(io->dirfd, name, 0) != 0 && errno != ENOENT)
        return store_io_fail(io, errno, "unlink %s/%s", io->dir, name);
    return 0;
}
