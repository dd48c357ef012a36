/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every on-disk record. */
#ifndef BASALT_STORAGE_CRC32C_H
#define BASALT_STORAGE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extends crc (0 for a fresh checksum) over the n bytes at p and returns the
 * new value; store_crc32c(store_crc32c(0, a, na), b, nb) equals the checksum of
 * a followed by b. Pure; any thread.
 */
uint32_t store_crc32c(uint32_t crc, const void *p, size_t n);

/* The same with the table loop, what CPUs without the crc32 instruction run (for the tests). */
uint32_t store_crc32c_portable(uint32_t crc, const void *p, size_t n);

#endif
