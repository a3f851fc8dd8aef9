/* valuelog: small helpers shared by the project's own C codecs (CRC-32C, LZ4 block, Snappy raw).
 * This project's own code, MIT licensed. */
#ifndef VL_COMMON_H
#define VL_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Exported symbol of the WebAssembly module. On a native build (test harnesses) it is a no-op. */
#ifndef VL_EXPORT
#if defined(__wasm__)
#define VL_EXPORT(name) __attribute__((export_name(name)))
#else
#define VL_EXPORT(name)
#endif
#endif

#if defined(__GNUC__) || defined(__clang__)
#define VL_LIKELY(x) __builtin_expect(!!(x), 1)
#define VL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define VL_INLINE static inline __attribute__((always_inline))
#else
#define VL_LIKELY(x) (x)
#define VL_UNLIKELY(x) (x)
#define VL_INLINE static inline
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define VL_BIG_ENDIAN 1
#else
#define VL_BIG_ENDIAN 0
#endif

/* Unaligned little-endian loads and stores (memcpy compiles to a single load/store). */
VL_INLINE uint16_t vl_load16(const void *p) {
  uint16_t v;
  memcpy(&v, p, sizeof v);
#if VL_BIG_ENDIAN
  v = __builtin_bswap16(v);
#endif
  return v;
}

VL_INLINE uint32_t vl_load32(const void *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
#if VL_BIG_ENDIAN
  v = __builtin_bswap32(v);
#endif
  return v;
}

VL_INLINE uint64_t vl_load64(const void *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
#if VL_BIG_ENDIAN
  v = __builtin_bswap64(v);
#endif
  return v;
}

VL_INLINE void vl_store16(void *p, uint16_t v) {
#if VL_BIG_ENDIAN
  v = __builtin_bswap16(v);
#endif
  memcpy(p, &v, sizeof v);
}

VL_INLINE void vl_store32(void *p, uint32_t v) {
#if VL_BIG_ENDIAN
  v = __builtin_bswap32(v);
#endif
  memcpy(p, &v, sizeof v);
}

/* Raw 8- and 16-byte copies (byte order irrelevant). */
VL_INLINE void vl_copy8(void *d, const void *s) {
  uint64_t v;
  memcpy(&v, s, 8);
  memcpy(d, &v, 8);
}

VL_INLINE void vl_copy16(void *d, const void *s) {
  uint64_t a, b;
  memcpy(&a, s, 8);
  memcpy(&b, (const uint8_t *)s + 8, 8);
  memcpy(d, &a, 8);
  memcpy((uint8_t *)d + 8, &b, 8);
}

/* Number of trailing zero bits of a non-zero value. */
VL_INLINE unsigned vl_ctz64(uint64_t v) { return (unsigned)__builtin_ctzll(v); }

/* Length of the common prefix of a[0..] and b[0..], comparing no further than a + limit.
 * b may precede a (overlapping is fine: both are only read). */
VL_INLINE size_t vl_match_len(const uint8_t *a, const uint8_t *b, size_t limit) {
  size_t n = 0;
  while (n + 8 <= limit) {
    uint64_t x = vl_load64(a + n) ^ vl_load64(b + n);
    if (x != 0) {
#if VL_BIG_ENDIAN
      return n + ((unsigned)__builtin_clzll(x) >> 3);
#else
      return n + (vl_ctz64(x) >> 3);
#endif
    }
    n += 8;
  }
  while (n < limit && a[n] == b[n]) n++;
  return n;
}

/* LZ77 back-reference copy shared by both decoders: writes len bytes at op, each equal to the byte
 * off positions earlier (overlap allowed, so off < len repeats a pattern). Preconditions: off >= 1,
 * op - off is inside the output buffer, and room (bytes writable from op) >= len. Writes never go
 * past op + room. */
VL_INLINE void vl_lz_copy(uint8_t *op, size_t off, size_t len, size_t room) {
  const uint8_t *m = op - off;
  if (VL_UNLIKELY(off < 8)) {
    /* Write the first (up to) 8 bytes one by one; afterwards the same bytes repeat at distance
     * d = the smallest multiple of off that is >= 8, so 8-byte chunks become safe. */
    static const uint8_t dist[8] = {0, 8, 8, 9, 8, 10, 12, 14};
    size_t head = len < 8 ? len : 8;
    for (size_t i = 0; i < head; i++) op[i] = m[i];
    if (head == len) return;
    op += 8;
    len -= 8;
    room -= 8;
    m = op - dist[off];
  }
  if (VL_LIKELY(len + 15 <= room)) {
    /* Wild copy: may write up to 15 bytes past op + len (inside room). Chunks are done in order,
     * so a distance of 8..15 still reads only bytes already written. */
    uint8_t *const end = op + len;
    do {
      vl_copy8(op, m);
      vl_copy8(op + 8, m + 8);
      op += 16;
      m += 16;
    } while (op < end);
    return;
  }
  if ((size_t)(op - m) >= len) {
    memcpy(op, m, len);
    return;
  }
  while (len >= 8) {
    vl_copy8(op, m);
    op += 8;
    m += 8;
    len -= 8;
  }
  while (len--) *op++ = *m++;
}

#endif /* VL_COMMON_H */
