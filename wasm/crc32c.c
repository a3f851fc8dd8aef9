/* valuelog: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) with table-driven slicing.
 * Same semantics as Go's crc32.Update: takes and returns a finalized CRC, so calls chain.
 * This project's own code, MIT licensed. */
#include "vl_common.h"

#define CRC32C_POLY 0x82F63B78u

/* Slice-by-16 (measured in V8: ~2.5 GB/s vs ~1.9 GB/s for slice-by-8). crc_tab[k][b] is the CRC
 * register contribution of byte b followed by k zero bytes. The 16 KiB table is computed on first
 * use rather than stored in the module; crc_tab[0][1] is never zero once filled, so it doubles as
 * the "ready" mark. */
static uint32_t crc_tab[16][256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int j = 0; j < 8; j++) c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1u)));
    crc_tab[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = crc_tab[0][i];
    for (int k = 1; k < 16; k++) {
      c = (c >> 8) ^ crc_tab[0][c & 0xFF];
      crc_tab[k][i] = c;
    }
  }
}

VL_EXPORT("vl_crc32c")
uint32_t vl_crc32c(uint32_t crc, const uint8_t *p, uint32_t n) {
  if (VL_UNLIKELY(crc_tab[0][1] == 0)) crc_init();
  const uint32_t(*const t)[256] = (const uint32_t(*)[256])crc_tab;
  uint32_t c = ~crc;
  while (n >= 16) {
    uint32_t a = vl_load32(p) ^ c;
    uint32_t b = vl_load32(p + 4);
    uint32_t d = vl_load32(p + 8);
    uint32_t e = vl_load32(p + 12);
    c = t[15][a & 0xFF] ^ t[14][(a >> 8) & 0xFF] ^ t[13][(a >> 16) & 0xFF] ^ t[12][a >> 24] ^
        t[11][b & 0xFF] ^ t[10][(b >> 8) & 0xFF] ^ t[9][(b >> 16) & 0xFF] ^ t[8][b >> 24] ^
        t[7][d & 0xFF] ^ t[6][(d >> 8) & 0xFF] ^ t[5][(d >> 16) & 0xFF] ^ t[4][d >> 24] ^
        t[3][e & 0xFF] ^ t[2][(e >> 8) & 0xFF] ^ t[1][(e >> 16) & 0xFF] ^ t[0][e >> 24];
    p += 16;
    n -= 16;
  }
  while (n >= 8) {
    uint32_t a = vl_load32(p) ^ c;
    uint32_t b = vl_load32(p + 4);
    c = t[7][a & 0xFF] ^ t[6][(a >> 8) & 0xFF] ^ t[5][(a >> 16) & 0xFF] ^ t[4][a >> 24] ^
        t[3][b & 0xFF] ^ t[2][(b >> 8) & 0xFF] ^ t[1][(b >> 16) & 0xFF] ^ t[0][b >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFF];
  return ~c;
}
