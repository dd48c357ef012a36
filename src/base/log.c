/*
 * Logging: one formatted line per call, written with a single write(2) so
 * lines from different threads never interleave. Any thread may call it.
 */
#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

static atomic_int verbosity;

void log_setup(int level)
{
    atomic_store(&verbosity, level);
}

int log_verbosity(void)
{
    return atomic_load_explicit(&verbosity, memory_order_relaxed);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if ((int)level > log_verbosity())
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* Best effort: a failed log write has nowhere better to go. */
    ssize_t rc = write(STDERR_FILENO, line, (size_t)n);
    (void)rc;
}
