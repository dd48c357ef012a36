/*
 * CRC32C, slicing by 8: eight 256-entry tables let the loop consume eight
 * bytes per step. The tables are computed once, on first use (pthread_once),
 * from the reflected Castagnoli polynomial. Runs on whichever thread calls;
 * thread-safe.
 */
#include "storage/crc32c.h"

#include <pthread.h>

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_tables_build(void)
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
}

static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t store_crc32c(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc_once, crc_tables_build);
    const uint8_t *b = p;
    uint32_t c = ~crc;
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
    return ~c;
}
