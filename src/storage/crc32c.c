/*
 * CRC32C. On x86-64 CPUs with SSE4.2 the crc32 instruction does eight
 * bytes per step; elsewhere slicing by 8: eight 256-entry tables, computed
 * from the reflected Castagnoli polynomial, let the loop consume eight
 * bytes per step. The choice and the tables are made once, on first use
 * (pthread_once). Runs on whichever thread calls; thread-safe.
 */
#include "storage/crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define CRC32C_HW 1
#endif

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static uint32_t (*crc_impl)(uint32_t c, const uint8_t *b, size_t n);

static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The table loop on the inverted crc c. */
static uint32_t crc_tables_run(uint32_t c, const uint8_t *b, size_t n)
{
    while (n >= 8) {
        uint32_t lo = load_le32(b) ^ c;
        uint32_t hi = load_le32(b + 4);
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
            crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^
            crc_table[2][(hi >> 8) & 0xff] ^ crc_table[1][(hi >> 16) & 0xff] ^
            crc_table[0][hi >> 24];
        b += 8;
        n -= 8;
    }
    while (n-- > 0)
        c = (c >> 8) ^ crc_table[0][(c ^ *b++) & 0xff];
    return c;
}

#ifdef CRC32C_HW
/* The crc32 instruction on the inverted crc c (same polynomial, same bit order). */
__attribute__((target("sse4.2"))) static uint32_t crc_hw_run(uint32_t c, const uint8_t *b, size_t n)
{
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, b, 8); /* unaligned; x86 is little-endian like the format */
        c64 = _mm_crc32_u64(c64, v);
        b += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
    while (n-- > 0)
        c = _mm_crc32_u8(c, *b++);
    return c;
}
#endif

static void crc_setup(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc_table[0][i] = c;
    }
    /* Table t maps a byte to its contribution t positions further back. */
    for (int t = 1; t < 8; t++)
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t prev = crc_table[t - 1][i];
            crc_table[t][i] = (prev >> 8) ^ crc_table[0][prev & 0xff];
        }
    crc_impl = crc_tables_run;
#ifdef CRC32C_HW
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2"))
        crc_impl = crc_hw_run;
#endif
}

uint32_t store_crc32c(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc_once, crc_setup);
    return ~crc_impl(~crc, p, n);
}

uint32_t store_crc32c_portable(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc_once, crc_setup);
    return ~crc_tables_run(~crc, p, n);
}
