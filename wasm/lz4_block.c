/* valuelog: LZ4 *block* format (raw block: no frame, no size prefix) - a single-pass greedy
 * hash compressor and a bounds-checked decoder, written from the published format description.
 * This project's own code, MIT licensed. */
#include "vl_common.h"

#define LZ4_MIN_MATCH 4
#define LZ4_LAST_LITERALS 5 /* the last 5 bytes of a block are always literals */
#define LZ4_MATCH_FENCE 12  /* the last match starts at least 12 bytes before the end */
#define LZ4_MAX_OFFSET 65535u
#ifndef LZ4_HASH_LOG_MAX
#define LZ4_HASH_LOG_MAX 14
#endif
#ifndef LZ4_HASH_LOG_MIN
#define LZ4_HASH_LOG_MIN 8
#endif
#ifndef LZ4_SKIP_SHIFT
#define LZ4_SKIP_SHIFT 6 /* after 2^6 failed probes the search step grows by one */
#endif

/* Positions (relative to the block start) of recent 4-byte sequences, keyed by their hash. */
static uint32_t lz4_table[1u << LZ4_HASH_LOG_MAX];

VL_INLINE uint32_t lz4_hash(uint32_t v, unsigned shift) { return (v * 2654435761u) >> shift; }

VL_EXPORT("vl_lz4_compress_bound")
uint32_t vl_lz4_compress_bound(uint32_t n) { return n + n / 255 + 16; }

/* Bytes needed to extend a 4-bit length field holding v (v >= 15 spills into 255-runs). */
VL_INLINE size_t lz4_ext_len(size_t v) { return v >= 15 ? (v - 15) / 255 + 1 : 0; }

VL_INLINE uint8_t *lz4_put_ext(uint8_t *op, size_t v) {
  v -= 15;
  while (v >= 255) {
    *op++ = 255;
    v -= 255;
  }
  *op++ = (uint8_t)v;
  return op;
}

VL_EXPORT("vl_lz4_compress")
int32_t vl_lz4_compress(const uint8_t *src, uint32_t n, uint8_t *dst, uint32_t cap) {
  /* The result must fit an int32; the output never exceeds the bound, so a larger cap (even a
   * wrapped "n - 1" for n = 0) is clamped to it and oend never wraps around. */
  if (n > 0x7E000000u) return 0;
  if (cap > vl_lz4_compress_bound(n)) cap = vl_lz4_compress_bound(n);
  uint8_t *op = dst;
  const uint8_t *const oend = dst + cap;
  size_t anchor = 0;

  if (n > LZ4_MATCH_FENCE) {
    unsigned hlog = LZ4_HASH_LOG_MIN;
    while (hlog < LZ4_HASH_LOG_MAX && (1u << hlog) < n) hlog++;
    const unsigned shift = 32 - hlog;
    uint32_t *const table = lz4_table;
    memset(table, 0, sizeof(uint32_t) << hlog);

    const size_t match_start_max = n - LZ4_MATCH_FENCE; /* inclusive */
    const size_t match_end_max = n - LZ4_LAST_LITERALS; /* exclusive */
    size_t p = 1;
    table[lz4_hash(vl_load32(src), shift)] = 0;

    for (;;) {
      size_t cand;
      /* Search for a 4-byte match; the step grows the longer nothing is found. */
      {
        uint32_t probes = 1u << LZ4_SKIP_SHIFT;
        for (;;) {
          if (p > match_start_max) goto last_literals;
          const uint32_t v = vl_load32(src + p);
          const uint32_t h = lz4_hash(v, shift);
          cand = table[h];
          table[h] = (uint32_t)p;
          if (p - cand - 1 < LZ4_MAX_OFFSET && vl_load32(src + cand) == v) break;
          p += probes++ >> LZ4_SKIP_SHIFT;
        }
      }
      /* Extend backwards into the pending literals. */
      while (p > anchor && cand > 0 && src[p - 1] == src[cand - 1]) {
        p--;
        cand--;
      }

      for (;;) {
        /* Here src[cand..cand+4) == src[p..p+4), p <= match_start_max, 1 <= p - cand <= 65535. */
        const size_t mlen =
            LZ4_MIN_MATCH + vl_match_len(src + p + LZ4_MIN_MATCH, src + cand + LZ4_MIN_MATCH,
                                         match_end_max - p - LZ4_MIN_MATCH);
        const size_t lit = p - anchor;
        const size_t mcode = mlen - LZ4_MIN_MATCH;
        const size_t room = (size_t)(oend - op);
        /* Cheap upper bound of this sequence's size plus 16 bytes of copy slack (ext(v) <= v/128 + 1);
         * the exact size is only worked out when the output is nearly full. */
        const int roomy = lit + (lit >> 7) + (mcode >> 7) + 24 <= room;
        if (!roomy && 1 + lz4_ext_len(lit) + lit + 2 + lz4_ext_len(mcode) > room) return 0;

        uint8_t *const token = op++;
        *token = (uint8_t)(((lit < 15 ? lit : 15) << 4) | (mcode < 15 ? mcode : 15));
        if (lit >= 15) op = lz4_put_ext(op, lit);
        if (lit <= 16 && roomy) {
          /* Short literal run: fixed 8/16-byte copies (never read past src + n: p + 8 <= n). */
          vl_copy8(op, src + anchor);
          if (lit > 8) vl_copy8(op + 8, src + anchor + 8);
        } else {
          memcpy(op, src + anchor, lit);
        }
        op += lit;
        vl_store16(op, (uint16_t)(p - cand));
        op += 2;
        if (mcode >= 15) op = lz4_put_ext(op, mcode);

        p += mlen;
        anchor = p;
        if (p > match_start_max) goto last_literals;

        /* Remember a position inside the match, then try for an immediate follow-up match. */
        table[lz4_hash(vl_load32(src + p - 2), shift)] = (uint32_t)(p - 2);
        const uint32_t v = vl_load32(src + p);
        const uint32_t h = lz4_hash(v, shift);
        cand = table[h];
        table[h] = (uint32_t)p;
        if (p - cand - 1 < LZ4_MAX_OFFSET && vl_load32(src + cand) == v) continue;
        p++;
        break;
      }
    }
  }

last_literals: {
  const size_t lit = n - anchor;
  const size_t need = 1 + lz4_ext_len(lit) + lit;
  if (need > (size_t)(oend - op)) return 0;
  *op++ = (uint8_t)((lit < 15 ? lit : 15) << 4);
  if (lit >= 15) op = lz4_put_ext(op, lit);
  memcpy(op, src + anchor, lit);
  op += lit;
}
  return (int32_t)(op - dst);
}

/* Reads the 255-run continuation of a length field. Returns 0 on truncation or an absurd length. */
VL_INLINE int lz4_read_ext(const uint8_t **pip, const uint8_t *iend, size_t *len) {
  const uint8_t *ip = *pip;
  size_t v = *len;
  unsigned b;
  do {
    if (VL_UNLIKELY(ip == iend)) return 0;
    b = *ip++;
    v += b;
    if (VL_UNLIKELY(v > 0x7FFFFFFFu)) return 0;
  } while (b == 255);
  *pip = ip;
  *len = v;
  return 1;
}

#define LZ4_ERR_TRUNCATED (-1)
#define LZ4_ERR_LENGTH (-2)
#define LZ4_ERR_OUTPUT (-3)
#define LZ4_ERR_OFFSET (-4)
#define LZ4_ERR_ARGS (-5)

VL_EXPORT("vl_lz4_decompress")
int32_t vl_lz4_decompress(const uint8_t *src, uint32_t srcLen, uint8_t *dst, uint32_t dstLen) {
  if (srcLen == 0 || dstLen > 0x7FFFFFFFu) return LZ4_ERR_ARGS;
  const uint8_t *ip = src;
  const uint8_t *const iend = src + srcLen;
  uint8_t *op = dst;
  uint8_t *const oend = dst + dstLen;

  for (;;) {
    if (VL_UNLIKELY(ip == iend)) return LZ4_ERR_TRUNCATED; /* a token was expected */
    const unsigned token = *ip++;
    size_t lit = token >> 4;
    size_t ilen = (size_t)(iend - ip);
    size_t olen = (size_t)(oend - op);

    /* Fast path: short literals and a short match with plenty of room on both sides. */
    if (lit < 15 && ilen >= 16 + 2 && olen >= 16 + 18 + 15) {
      vl_copy16(op, ip);
      ip += lit;
      op += lit;
      const size_t off = vl_load16(ip);
      size_t mlen = token & 15;
      if (mlen != 15 && off >= 8 && off <= (size_t)(op - dst)) {
        ip += 2;
        const uint8_t *m = op - off;
        vl_copy8(op, m);
        vl_copy8(op + 8, m + 8);
        vl_copy8(op + 16, m + 16); /* mlen <= 18 */
        op += mlen + LZ4_MIN_MATCH;
        continue;
      }
      /* Long, close or invalid match: finish this sequence on the careful path (at least 4 input
       * bytes remain here, so this is never the final literals-only sequence). */
      goto match;
    }

    if (lit == 15 && !lz4_read_ext(&ip, iend, &lit)) return LZ4_ERR_LENGTH;
    ilen = (size_t)(iend - ip);
    if (VL_UNLIKELY(lit > ilen)) return LZ4_ERR_TRUNCATED;
    if (VL_UNLIKELY(lit > olen)) return LZ4_ERR_OUTPUT;
    if (lit <= 16 && ilen >= 16 && olen >= 16) {
      vl_copy16(op, ip);
    } else {
      memcpy(op, ip, lit);
    }
    ip += lit;
    op += lit;
    if (ip == iend) break; /* the last sequence has literals only */

  match: {
    if (VL_UNLIKELY((size_t)(iend - ip) < 2)) return LZ4_ERR_TRUNCATED;
    const size_t off = vl_load16(ip);
    ip += 2;
    size_t mlen = token & 15;
    if (mlen == 15 && !lz4_read_ext(&ip, iend, &mlen)) return LZ4_ERR_LENGTH;
    mlen += LZ4_MIN_MATCH;
    if (VL_UNLIKELY(off == 0 || off > (size_t)(op - dst))) return LZ4_ERR_OFFSET;
    olen = (size_t)(oend - op);
    if (VL_UNLIKELY(mlen > olen)) return LZ4_ERR_OUTPUT;
    vl_lz_copy(op, off, mlen, olen);
    op += mlen;
  }
  }
  return (int32_t)(op - dst);
}
