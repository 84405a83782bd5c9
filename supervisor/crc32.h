// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of journal
// frames. Table-driven, one byte at a time; zlib is not a dependency.
//
// Thread-safety: pure functions over a constant table; safe from any thread.
#ifndef LANEWAY_SUPERVISOR_CRC32_H_
#define LANEWAY_SUPERVISOR_CRC32_H_

#include <cstddef>
#include <cstdint>

namespace laneway::supervisor {

// Returns the CRC-32C of data[0, n) continued from `crc`, the CRC-32C of the
// bytes before them (0 for none). Crc32cExtend(Crc32c(a), b) == Crc32c(a + b).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

// The CRC-32C of data[0, n). Crc32c("123456789", 9) == 0xE3069283.
inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_CRC32_H_
