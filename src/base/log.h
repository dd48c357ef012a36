/* Logging to stderr with a process-wide verbosity set once by main.c. */
#ifndef BASALT_BASE_LOG_H
#define BASALT_BASE_LOG_H

#include "base/compiler.h"

enum log_level { LOG_WARN = 0, LOG_INFO = 1, LOG_DEBUG = 2 };

/* Sets the verbosity: 0 warnings only, 1 info (-v), 2 debug (-vv). */
void log_setup(int verbosity);

/* Returns the current verbosity. */
int log_verbosity(void);

/* Writes one line to stderr when level <= verbosity; thread-safe. */
void log_msg(enum log_level level, const char *fmt, ...) PRINTF_LIKE(2, 3);

#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
