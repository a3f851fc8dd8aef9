/* valuelog: Snappy "raw" block format (uvarint length + literal/copy elements) - a greedy hash
 * compressor working in 64 KiB fragments and a bounds-checked decoder, written from the published
 * format description. This project's own code, MIT licensed. */
#include "vl_common.h"

#define SNAPPY_FRAGMENT 65536u
#ifndef SNAPPY_HASH_LOG_MAX
#define SNAPPY_HASH_LOG_MAX 14
#endif
#ifndef SNAPPY_HASH_LOG_MIN
#define SNAPPY_HASH_LOG_MIN 8
#endif
#define SNAPPY_MIN_FRAGMENT_FOR_MATCH 16
#ifndef SNAPPY_SKIP_SHIFT
#define SNAPPY_SKIP_SHIFT 5 /* after 2^5 failed probes the search step grows by one */
#endif

/* Fragment-relative positions (< 65536) of recent 4-byte sequences, keyed by their hash. */
static uint16_t snappy_table[1u << SNAPPY_HASH_LOG_MAX];

VL_INLINE uint32_t snappy_hash(uint32_t v, unsigned shift) { return (v * 0x9E3779B1u) >> shift; }

VL_EXPORT("vl_snappy_max_compressed")
uint32_t vl_snappy_max_compressed(uint32_t n) { return 32 + n + n / 6; }

/* Emits a literal element of len >= 1 bytes. Returns NULL if it does not fit before oend.
 * `readable` is how many bytes may be read from lit (>= len). */
VL_INLINE uint8_t *snappy_emit_literal(uint8_t *op, const uint8_t *oend, const uint8_t *lit, size_t len,
                                       size_t readable) {
  const size_t room = (size_t)(oend - op);
  const size_t v = len - 1;
  if (v < 60) {
    if (len + 1 > room) return NULL;
    if (len <= 16 && room >= 17 && readable >= 16) {
      *op = (uint8_t)(v << 2);
      vl_copy16(op + 1, lit);
      return op + 1 + len;
    }
    *op++ = (uint8_t)(v << 2);
  } else {
    const size_t nb = v < 0x100u ? 1 : v < 0x10000u ? 2 : v < 0x1000000u ? 3 : 4;
    if (len + 1 + nb > room) return NULL;
    *op++ = (uint8_t)((59 + nb) << 2);
    for (size_t i = 0; i < nb; i++) *op++ = (uint8_t)(v >> (8 * i));
  }
  memcpy(op, lit, len);
  return op + len;
}

/* Emits copies for a match of len >= 4 at distance 1..65535. Returns NULL if out of room. */
VL_INLINE uint8_t *snappy_emit_copy(uint8_t *op, const uint8_t *oend, size_t off, size_t len) {
  while (len >= 68) {
    if ((size_t)(oend - op) < 3) return NULL;
    op[0] = (uint8_t)((63 << 2) | 2);
    vl_store16(op + 1, (uint16_t)off);
    op += 3;
    len -= 64;
  }
  if (len > 64) { /* leave at least 4 for the final element */
    if ((size_t)(oend - op) < 3) return NULL;
    op[0] = (uint8_t)((59 << 2) | 2);
    vl_store16(op + 1, (uint16_t)off);
    op += 3;
    len -= 60;
  }
  if (len < 12 && off < 2048) {
    if ((size_t)(oend - op) < 2) return NULL;
    op[0] = (uint8_t)(1 | ((len - 4) << 2) | ((off >> 8) << 5));
    op[1] = (uint8_t)off;
    return op + 2;
  }
  if ((size_t)(oend - op) < 3) return NULL;
  op[0] = (uint8_t)(2 | ((len - 1) << 2));
  vl_store16(op + 1, (uint16_t)off);
  return op + 3;
}

/* Compresses one fragment (1..65536 bytes; matches stay inside it). Returns NULL if out of room.
 * `src_end` is the end of the whole input (short literal copies may read ahead up to it). */
static uint8_t *snappy_fragment(const uint8_t *base, size_t len, const uint8_t *src_end, uint8_t *op,
                                const uint8_t *oend) {
  size_t anchor = 0;
  if (len >= SNAPPY_MIN_FRAGMENT_FOR_MATCH) {
    unsigned hlog = SNAPPY_HASH_LOG_MIN;
    while (hlog < SNAPPY_HASH_LOG_MAX && (1u << hlog) < len) hlog++;
    const unsigned shift = 32 - hlog;
    uint16_t *const table = snappy_table;
    memset(table, 0, sizeof(uint16_t) << hlog);

    const size_t search_max = len - 4; /* inclusive: a 4-byte load at p stays inside */
    size_t p = 1;
    table[snappy_hash(vl_load32(base), shift)] = 0;

    for (;;) {
      size_t cand;
      {
        uint32_t probes = 1u << SNAPPY_SKIP_SHIFT;
        for (;;) {
          if (p > search_max) goto tail;
          const uint32_t v = vl_load32(base + p);
          const uint32_t h = snappy_hash(v, shift);
          cand = table[h];
          table[h] = (uint16_t)p;
          if (cand < p && vl_load32(base + cand) == v) break;
          p += probes++ >> SNAPPY_SKIP_SHIFT;
        }
      }
      while (p > anchor && cand > 0 && base[p - 1] == base[cand - 1]) {
        p--;
        cand--;
      }
      if (p > anchor) {
        const uint8_t *lit = base + anchor;
        op = snappy_emit_literal(op, oend, lit, p - anchor, (size_t)(src_end - lit));
        if (!op) return NULL;
      }
      for (;;) {
        const size_t mlen = 4 + vl_match_len(base + p + 4, base + cand + 4, len - p - 4);
        op = snappy_emit_copy(op, oend, p - cand, mlen);
        if (!op) return NULL;
        p += mlen;
        anchor = p;
        if (p > search_max) goto tail;
        table[snappy_hash(vl_load32(base + p - 1), shift)] = (uint16_t)(p - 1);
        const uint32_t v = vl_load32(base + p);
        const uint32_t h = snappy_hash(v, shift);
        cand = table[h];
        table[h] = (uint16_t)p;
        if (cand < p && vl_load32(base + cand) == v) continue;
        p++;
        break;
      }
    }
  }
tail:
  if (anchor < len) {
    const uint8_t *lit = base + anchor;
    op = snappy_emit_literal(op, oend, lit, len - anchor, (size_t)(src_end - lit));
  }
  return op;
}

VL_EXPORT("vl_snappy_compress")
int32_t vl_snappy_compress(const uint8_t *src, uint32_t n, uint8_t *dst, uint32_t cap) {
  /* The result must fit an int32; the output never exceeds the bound, so a larger cap is clamped
   * to it and oend never wraps around. */
  if (n > 0x6C000000u) return 0;
  if (cap > vl_snappy_max_compressed(n)) cap = vl_snappy_max_compressed(n);
  uint8_t *op = dst;
  const uint8_t *const oend = dst + cap;
  /* uvarint of the uncompressed length */
  uint32_t v = n;
  do {
    if (op == oend) return 0;
    const uint8_t b = (uint8_t)(v & 0x7F);
    v >>= 7;
    *op++ = (uint8_t)(b | (v ? 0x80 : 0));
  } while (v);

  const uint8_t *const src_end = src + n;
  for (size_t pos = 0; pos < n;) {
    const size_t len = (n - pos) < SNAPPY_FRAGMENT ? (n - pos) : SNAPPY_FRAGMENT;
    op = snappy_fragment(src + pos, len, src_end, op, oend);
    if (!op) return 0;
    pos += len;
  }
  return (int32_t)(op - dst);
}

/* Parses the uvarint header. Returns its size in bytes (1..5), or 0 if malformed/over 32 bits. */
VL_INLINE size_t snappy_read_header(const uint8_t *src, size_t srcLen, uint32_t *out) {
  uint32_t v = 0;
  for (size_t i = 0; i < 5; i++) {
    if (i == srcLen) return 0;
    const uint32_t b = src[i];
    if (i == 4 && b > 0x0F) return 0; /* would exceed 32 bits (or continue) */
    v |= (b & 0x7F) << (7 * i);
    if (b < 0x80) {
      *out = v;
      return i + 1;
    }
  }
  return 0;
}

VL_EXPORT("vl_snappy_uncompressed_length")
int64_t vl_snappy_uncompressed_length(const uint8_t *src, uint32_t srcLen) {
  uint32_t v;
  if (!snappy_read_header(src, srcLen, &v)) return -1;
  return (int64_t)v;
}

#define SNAPPY_ERR_HEADER (-1)
#define SNAPPY_ERR_LENGTH_MISMATCH (-2)
#define SNAPPY_ERR_TRUNCATED (-3)
#define SNAPPY_ERR_OUTPUT (-4)
#define SNAPPY_ERR_OFFSET (-5)
#define SNAPPY_ERR_SHORT (-6)

VL_EXPORT("vl_snappy_decompress")
int32_t vl_snappy_decompress(const uint8_t *src, uint32_t srcLen, uint8_t *dst, uint32_t dstLen) {
  uint32_t declared;
  const size_t hdr = snappy_read_header(src, srcLen, &declared);
  if (!hdr) return SNAPPY_ERR_HEADER;
  if (declared != dstLen || dstLen > 0x7FFFFFFFu) return SNAPPY_ERR_LENGTH_MISMATCH;
  const uint8_t *ip = src + hdr;
  const uint8_t *const iend = src + srcLen;
  uint8_t *op = dst;
  uint8_t *const oend = dst + dstLen;

  /* Fast loop: while at least 21 input bytes (tag, up to 4 extra bytes, a 16-byte literal read)
   * and 80 output bytes (a 64-byte copy plus 16 bytes of overshoot) remain, element headers need
   * no bounds checks and short literals/copies use fixed-size chunk copies. */
  while ((size_t)(iend - ip) >= 21 && (size_t)(oend - op) >= 80) {
    const uint32_t tag = *ip++;
    size_t len, off;
    if ((tag & 3) == 0) {
      len = (tag >> 2) + 1;
      if (len <= 16) {
        vl_copy16(op, ip);
        ip += len;
        op += len;
        continue;
      }
      if (len > 60) {
        const size_t nb = len - 60;
        uint32_t v = 0;
        for (size_t i = 0; i < nb; i++) v |= (uint32_t)ip[i] << (8 * i);
        ip += nb;
        if (VL_UNLIKELY(v >= 0x7FFFFFFFu)) return SNAPPY_ERR_TRUNCATED;
        len = (size_t)v + 1;
      }
      if (VL_UNLIKELY(len > (size_t)(iend - ip))) return SNAPPY_ERR_TRUNCATED;
      if (VL_UNLIKELY(len > (size_t)(oend - op))) return SNAPPY_ERR_OUTPUT;
      memcpy(op, ip, len);
      ip += len;
      op += len;
      continue;
    }
    if ((tag & 3) == 1) {
      len = ((tag >> 2) & 7) + 4;
      off = ((tag >> 5) << 8) | *ip++;
    } else if ((tag & 3) == 2) {
      len = (tag >> 2) + 1;
      off = vl_load16(ip);
      ip += 2;
    } else {
      len = (tag >> 2) + 1;
      off = vl_load32(ip);
      ip += 4;
    }
    if (VL_UNLIKELY(off == 0 || off > (size_t)(op - dst))) return SNAPPY_ERR_OFFSET;
    /* len <= 64 and at least 80 output bytes remain */
    const uint8_t *m = op - off;
    if (off >= 16) {
      vl_copy16(op, m);
      if (len > 16) {
        size_t i = 16;
        do {
          vl_copy16(op + i, m + i);
          i += 16;
        } while (i < len);
      }
    } else if (off >= 8) {
      size_t i = 0;
      do {
        vl_copy8(op + i, m + i);
        vl_copy8(op + i + 8, m + i + 8);
        i += 16;
      } while (i < len);
    } else {
      vl_lz_copy(op, off, len, (size_t)(oend - op));
    }
    op += len;
  }

  /* Careful loop for the last elements. */
  while (ip != iend) {
    const uint32_t tag = *ip++;
    size_t len, off;
    const size_t ilen = (size_t)(iend - ip);
    const size_t olen = (size_t)(oend - op);
    switch (tag & 3) {
    case 0:
      len = (tag >> 2) + 1;
      if (len <= 16 && ilen >= 16 && olen >= 16) { /* short literal: one fixed copy */
        if (VL_UNLIKELY(len > ilen)) return SNAPPY_ERR_TRUNCATED;
        if (VL_UNLIKELY(len > olen)) return SNAPPY_ERR_OUTPUT;
        vl_copy16(op, ip);
        ip += len;
        op += len;
        continue;
      }
      if (len > 60) {
        const size_t nb = len - 60;
        if (VL_UNLIKELY(nb > ilen)) return SNAPPY_ERR_TRUNCATED;
        uint32_t v = 0;
        for (size_t i = 0; i < nb; i++) v |= (uint32_t)ip[i] << (8 * i);
        ip += nb;
        if (VL_UNLIKELY(v >= 0x7FFFFFFFu)) return SNAPPY_ERR_TRUNCATED;
        len = (size_t)v + 1;
      }
      if (VL_UNLIKELY(len > (size_t)(iend - ip))) return SNAPPY_ERR_TRUNCATED;
      if (VL_UNLIKELY(len > olen)) return SNAPPY_ERR_OUTPUT;
      memcpy(op, ip, len);
      ip += len;
      op += len;
      continue;
    case 1:
      if (VL_UNLIKELY(ilen < 1)) return SNAPPY_ERR_TRUNCATED;
      len = ((tag >> 2) & 7) + 4;
      off = ((tag >> 5) << 8) | *ip++;
      break;
    case 2:
      if (VL_UNLIKELY(ilen < 2)) return SNAPPY_ERR_TRUNCATED;
      len = (tag >> 2) + 1;
      off = vl_load16(ip);
      ip += 2;
      break;
    default:
      if (VL_UNLIKELY(ilen < 4)) return SNAPPY_ERR_TRUNCATED;
      len = (tag >> 2) + 1;
      off = vl_load32(ip);
      ip += 4;
      break;
    }
    if (VL_UNLIKELY(off == 0 || off > (size_t)(op - dst))) return SNAPPY_ERR_OFFSET;
    if (VL_UNLIKELY(len > olen)) return SNAPPY_ERR_OUTPUT;
    if (off >= 8 && olen >= 64 + 16) {
      /* len <= 64: fixed 16-byte chunks, distance >= 8 keeps them in order-safe */
      const uint8_t *m = op - off;
      uint8_t *o = op;
      uint8_t *const end = op + len;
      do {
        vl_copy8(o, m);
        vl_copy8(o + 8, m + 8);
        o += 16;
        m += 16;
      } while (o < end);
    } else {
      vl_lz_copy(op, off, len, olen);
    }
    op += len;
  }
  if (op != oend) return SNAPPY_ERR_SHORT;
  return (int32_t)(op - dst);
}
