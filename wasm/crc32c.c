/* valuelog: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 * Same semantics as Go's crc32.Update: takes and returns a finalized CRC, so calls chain.
 * This project's own code, MIT licensed. docs/CRC32C.md explains the method at length.
 *
 * WebAssembly has no CRC and no carry-less multiply instruction, so long inputs are first reduced
 * with XORs only: if Q is a multiple of the CRC polynomial P, then M mod P = (M mod Q) mod P, and
 * when Q(x) = q(x^8) has few terms, removing the leading byte of M modulo Q just XORs that byte into
 * a handful of later bytes ("taps"). Bytes are removed front to back in 16-byte vectors; every tap
 * reaches at least 16 bytes ahead, so a whole vector's final value depends only on vectors already
 * finished. What is left at the end (fewer than D + 16 bytes, D = degree of q) carries every
 * contribution pushed into it and goes to the next, smaller stage, and finally to the tables.
 *
 * Two families of stage: the "shuffle" stage (weight 8, D = 112) keeps the last seven vectors in
 * locals and forms each tap with one two-input byte shuffle (one palignr in V8); "load" stages
 * (weight 4, D = 5275, and weight 6, D = 352) keep the reduced stream in a scratch buffer and read
 * taps back with unaligned loads, which suits JavaScriptCore, where a two-input shuffle costs two
 * pshufb and an or. The host picks the family with vl_crc32c_set_kernel(). A weight-6 shuffle
 * stage (D = 210, fourteen vectors in locals) was measured slower than weight 8 in V8 and left out. */
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

/* Table kernel on the raw register (not inverted). */
static uint32_t crc_tables(uint32_t c, const uint8_t *p, size_t n) {
  const uint32_t(*const t)[256] = (const uint32_t(*)[256])crc_tab;
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
  return c;
}

/* The table kernel alone, kept exported so that tests and benchmarks can compare against it. */
VL_EXPORT("vl_crc32c_tables")
uint32_t vl_crc32c_tables(uint32_t crc, const uint8_t *p, uint32_t n) {
  if (VL_UNLIKELY(crc_tab[0][1] == 0)) crc_init();
  return ~crc_tables(~crc, p, n);
}

/* ------------------------------------------------------------------------------------------- */
/* Sparse reduction stages. Byte j of the message is the coefficient of z^(len-1-j), z = x^8, with
 * the bits inside a byte in the CRC's reflected order, so byte values XOR as polynomials do.
 * A stage with multiple q(z) = z^D + sum over taps a of z^(D-a) (the tap a = D is the constant
 * term) computes the reduced stream e[j] = m[j] ^ XOR_a e[j-a] (e of a negative index is 0) for
 * the first 16K bytes, K = floor((len - D) / 16), and hands on the remaining len - 16K bytes with
 * the contributions XOR_a e[j-a] (j-a < 16K) folded in. Those bytes, read from register 0, have
 * the same CRC as the whole message. The multiples were checked to leave remainder 0 modulo
 * 0x11EDC6F41 (the full polynomial), and test/crc32c.test.ts checks every stage against the
 * table kernel and a bitwise oracle. */

typedef uint8_t u8x16 __attribute__((vector_size(16)));
typedef uint32_t u32x4 __attribute__((vector_size(16)));

VL_INLINE u8x16 vload(const uint8_t *p) {
  u8x16 v;
  memcpy(&v, p, 16);
  return v;
}
VL_INLINE void vstore(uint8_t *p, u8x16 v) { memcpy(p, &v, 16); }

/* Bytes 16-r .. 31-r of the 32-byte concatenation a ‖ b: the vector that starts r bytes before b. */
#define SHIFT_IDX(r)                                                                                \
  16 - (r), 17 - (r), 18 - (r), 19 - (r), 20 - (r), 21 - (r), 22 - (r), 23 - (r), 24 - (r),          \
      25 - (r), 26 - (r), 27 - (r), 28 - (r), 29 - (r), 30 - (r), 31 - (r)
#define SH(r, a, b) __builtin_shufflevector((a), (b), SHIFT_IDX(r))

/* Writes m[0..len) ^ pushed into out (pushed: nv vectors from push(i), zero beyond), where m may
 * be out itself. Vectors that reach past len are applied byte by byte (their bytes past len are
 * zero: every tap lands at most D bytes after a reduced byte, and 16K + D <= len). */
#define FINISH_TAIL(m, len, out, nv, PUSH)                                                          \
  do {                                                                                             \
    size_t i_ = 0;                                                                                 \
    for (size_t t_ = 0; t_ < (nv); t_++, i_ += 16) {                                               \
      u8x16 v_ = PUSH;                                                                             \
      if (i_ + 16 <= (len)) {                                                                      \
        vstore((out) + i_, vload((m) + i_) ^ v_);                                                  \
      } else {                                                                                     \
        uint8_t b_[16];                                                                            \
        vstore(b_, v_);                                                                            \
        for (size_t k_ = 0; i_ + k_ < (len); k_++) (out)[i_ + k_] = (m)[i_ + k_] ^ b_[k_];         \
        i_ = (len);                                                                                \
        break;                                                                                     \
      }                                                                                            \
    }                                                                                              \
    if (i_ < (len) && (out) != (m)) memmove((out) + i_, (m) + i_, (len) - i_);                      \
  } while (0)

/* Weight 8: q = z^112 + z^95 + z^50 + z^49 + z^25 + z^9 + z^4 + 1, taps 17, 62, 63, 87, 103, 108,
 * 112 bytes back. h1..h7 are e of the previous seven vectors. Returns the bytes reduced. */
#define W8_D 112
/* The loop carries e from one vector to the next, so the far taps are combined first (as a tree)
 * and the tap on the previous vector comes last: the chain per vector is one shuffle and one XOR.
 * Written the other way round it is several XORs long and runs at a third of the speed. */
#define W8_FAR(h3, h4, h5, h6, h7)                                                                  \
  ((SH(14, h4, h3) ^ SH(15, h4, h3)) ^ (SH(7, h6 ^ h7, h5 ^ h6) ^ (SH(12, h7, h6) ^ h7)))
#define W8_TAPS(h1, h2, h3, h4, h5, h6, h7) (W8_FAR(h3, h4, h5, h6, h7) ^ SH(1, h2, h1))
static size_t stage_w8(const uint8_t *p, size_t n, uint8_t *out, u8x16 init) {
  const size_t k = (n - W8_D) / 16;
  u8x16 z = {0};
  u8x16 h1 = z, h2 = z, h3 = z, h4 = z, h5 = z, h6 = z, h7 = z;
  h1 = vload(p) ^ init; /* the first vector has no taps yet (k >= 1 always) */
  /* f is the next vector with its far taps applied, computed one iteration ahead: the compiler
   * would otherwise reassociate the XORs and put the near tap at the front of the chain. */
  u8x16 f = vload(p + 16);
  for (size_t i = 1; i < k; i++) {
    u8x16 e = f ^ SH(1, h2, h1);
    f = vload(p + 16 * i + 16) ^ W8_FAR(h2, h3, h4, h5, h6);
    h7 = h6; h6 = h5; h5 = h4; h4 = h3; h3 = h2; h2 = h1; h1 = e;
  }
  const size_t done = 16 * k, len = n - done;
  FINISH_TAIL(p + done, len, out, W8_D / 16,
              (z = W8_TAPS(h1, h2, h3, h4, h5, h6, h7),
               h7 = h6, h6 = h5, h5 = h4, h4 = h3, h3 = h2, h2 = h1, h1 = (u8x16){0}, z));
  return done;
}

/* Load stages: e goes to scratch (HIST bytes of history, then a CHUNK being filled; when the chunk
 * is full its last HIST bytes move to the front). Every tap is at least 164 bytes back, so a load
 * never waits on a store still in flight. */
#define HIST 5376 /* >= the largest D (5275) + 16, a multiple of 16 */
#define CHUNK 65536
static uint8_t scratch[HIST + CHUNK] __attribute__((aligned(16)));

#define LOAD_STAGE(name, D, TAPS)                                                                   \
  static size_t name(const uint8_t *p, size_t n, uint8_t *out, u8x16 init) {                       \
    const size_t k = (n - (D)) / 16;                                                               \
    uint8_t *s = scratch + HIST, *const end = scratch + HIST + CHUNK;                             \
    memset(s - ((D) + 15) / 16 * 16, 0, ((D) + 15) / 16 * 16);                                     \
    vstore(s, vload(p) ^ init);                                                                    \
    s += 16;                                                                                       \
    for (size_t i = 1; i < k; i++) {                                                               \
      vstore(s, vload(p + 16 * i) ^ TAPS);                                                         \
      s += 16;                                                                                     \
      if (VL_UNLIKELY(s == end)) {                                                                 \
        memcpy(scratch, end - HIST, HIST);                                                         \
        s = scratch + HIST;                                                                        \
      }                                                                                            \
    }                                                                                              \
    /* Bring the last HIST bytes of history to the front and zero what follows, so that taps      \
     * reaching past the reduced bytes read 0. */                                                   \
    if (s != scratch + HIST) memmove(scratch, s - HIST, HIST);                                     \
    s = scratch + HIST;                                                                            \
    memset(s, 0, ((D) + 15) / 16 * 16);                                                            \
    const size_t done = 16 * k, len = n - done;                                                    \
    FINISH_TAIL(p + done, len, out, ((D) + 15) / 16, (s += 16, TAPS_AT(s - 16)));                 \
    return done;                                                                                   \
  }

/* Weight 4, the sparsest span: taps 767, 2524, 5275. */
#define W4L_D 5275
#define TAPS_W4L(s) (vload((s)-767) ^ vload((s)-2524) ^ vload((s)-5275))
/* Weight 6 with long taps: 164, 173, 276, 345, 352. */
#define W6L_D 352
#define TAPS_W6L(s) (vload((s)-164) ^ vload((s)-173) ^ vload((s)-276) ^ vload((s)-345) ^ vload((s)-352))

#define TAPS TAPS_W4L(s)
#define TAPS_AT TAPS_W4L
LOAD_STAGE(stage_w4l, W4L_D, TAPS)
#undef TAPS
#undef TAPS_AT
#define TAPS TAPS_W6L(s)
#define TAPS_AT TAPS_W6L
LOAD_STAGE(stage_w6l, W6L_D, TAPS)
#undef TAPS
#undef TAPS_AT

/* Thresholds (bytes still to go) at which a stage pays for itself; below W8_MIN the tables run. */
#define W8_MIN 256
#define W6L_MIN 2048
#define W4L_MIN 65536

/* Where each stage leaves its remainder (at most the largest D + 15 bytes): two buffers used in
 * turn, so a stage never writes over the bytes it reads. */
static uint8_t tails[2][HIST + 16] __attribute__((aligned(16)));

static int kernel_load = 0;

/* 0: shuffle stages (V8: Node, Deno, Chromium); 1: load stages for long inputs (JavaScriptCore). */
VL_EXPORT("vl_crc32c_set_kernel")
void vl_crc32c_set_kernel(uint32_t kind) { kernel_load = kind == 1; }

VL_EXPORT("vl_crc32c")
uint32_t vl_crc32c(uint32_t crc, const uint8_t *p, uint32_t n) {
  if (VL_UNLIKELY(crc_tab[0][1] == 0)) crc_init();
  const uint32_t c = ~crc;
  if (n < W8_MIN) return ~crc_tables(c, p, n);
  /* The initial register enters as an XOR into the first four message bytes. */
  u8x16 init = (u8x16)(u32x4){c, 0, 0, 0};
  const uint8_t *m = p;
  size_t len = n;
  int turn = 0;
#define RUN(stage)                                                                                 \
  do {                                                                                             \
    uint8_t *out_ = tails[turn];                                                                   \
    len -= stage(m, len, out_, init);                                                              \
    m = out_;                                                                                      \
    turn ^= 1;                                                                                     \
    init = (u8x16){0};                                                                             \
  } while (0)
  if (kernel_load) {
    if (len >= W4L_MIN) RUN(stage_w4l);
    if (len >= W6L_MIN) RUN(stage_w6l);
  }
  /* A remainder handed on by an earlier stage (<= 367 bytes) is still worth one more pass. */
  if (len >= W8_MIN || (m != p && len >= W8_D + 64)) RUN(stage_w8);
#undef RUN
  return ~crc_tables(0, m, len);
}
