/* Compiler helpers shared by every module. */
#ifndef BASALT_BASE_COMPILER_H
#define BASALT_BASE_COMPILER_H

#define WARN_UNUSED __attribute__((warn_unused_result))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

#endif
