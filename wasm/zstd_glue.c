/* valuelog: the zstd face of the WebAssembly module (this project's own code, MIT).
 * Reusable compression/decompression contexts, prepared dictionaries (CDict/DDict) owned by the
 * TypeScript side's bounded cache, dictionary training, and size queries used to check declared
 * sizes before anything is allocated. zstd itself is compiled from the pinned npm package's
 * amalgamation at build time (scripts/build-wasm.mjs); its declarations come from the same file. */
#define ZSTD_STATIC_LINKING_ONLY
#define ZDICT_STATIC_LINKING_ONLY
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "vl_common.h"

/* Prototypes of the amalgamation's public API that this file uses (the amalgamation is a separate
 * translation unit; these mirror zstd.h / zdict.h and are checked by the linker). */
typedef struct ZSTD_CCtx_s ZSTD_CCtx;
typedef struct ZSTD_DCtx_s ZSTD_DCtx;
typedef struct ZSTD_CDict_s ZSTD_CDict;
typedef struct ZSTD_DDict_s ZSTD_DDict;
ZSTD_CCtx *ZSTD_createCCtx(void);
ZSTD_DCtx *ZSTD_createDCtx(void);
size_t ZSTD_CCtx_reset(ZSTD_CCtx *cctx, int reset);
size_t ZSTD_CCtx_setParameter(ZSTD_CCtx *cctx, int param, int value);
size_t ZSTD_CCtx_refCDict(ZSTD_CCtx *cctx, const ZSTD_CDict *cdict);
size_t ZSTD_compress2(ZSTD_CCtx *cctx, void *dst, size_t cap, const void *src, size_t n);
size_t ZSTD_decompressDCtx(ZSTD_DCtx *dctx, void *dst, size_t cap, const void *src, size_t n);
size_t ZSTD_decompress_usingDDict(ZSTD_DCtx *dctx, void *dst, size_t cap, const void *src, size_t n,
                                  const ZSTD_DDict *ddict);
size_t ZSTD_DCtx_reset(ZSTD_DCtx *dctx, int reset);
size_t ZSTD_DCtx_setParameter(ZSTD_DCtx *dctx, int param, int value);
ZSTD_CDict *ZSTD_createCDict(const void *dict, size_t n, int level);
ZSTD_DDict *ZSTD_createDDict(const void *dict, size_t n);
size_t ZSTD_freeCDict(ZSTD_CDict *p);
size_t ZSTD_freeDDict(ZSTD_DDict *p);
size_t ZSTD_compressBound(size_t n);
unsigned ZSTD_isError(size_t code);
const char *ZSTD_getErrorName(size_t code);
unsigned long long ZSTD_getFrameContentSize(const void *src, size_t n);
size_t ZSTD_findFrameCompressedSize(const void *src, size_t n);
unsigned ZSTD_getDictID_fromFrame(const void *src, size_t n);
unsigned ZSTD_getDictID_fromDict(const void *dict, size_t n);
int ZSTD_minCLevel(void);
int ZSTD_maxCLevel(void);

typedef struct { int compressionLevel; unsigned notificationLevel; unsigned dictID; } ZDICT_params_t;
typedef struct {
  unsigned k, d, f, steps, nbThreads;
  double splitPoint;
  unsigned accel, shrinkDict, shrinkDictMaxRegression;
  ZDICT_params_t zParams;
} ZDICT_fastCover_params_t;
size_t ZDICT_optimizeTrainFromBuffer_fastCover(void *dict, size_t cap, const void *samples,
                                               const size_t *sizes, unsigned n,
                                               ZDICT_fastCover_params_t *params);
unsigned ZDICT_isError(size_t code);

/* Parameter ids from zstd.h (stable API values; experimental ones are fixed by the 1.5.x ABI). */
enum {
  VL_ZSTD_reset_session_and_parameters = 3,
  VL_ZSTD_c_compressionLevel = 100,
  VL_ZSTD_c_contentSizeFlag = 200,
  VL_ZSTD_c_checksumFlag = 201,
  VL_ZSTD_c_dictIDFlag = 202,
  VL_ZSTD_c_literalCompressionMode = 1002, /* ZSTD_c_experimentalParam5 */
  VL_ZSTD_ps_auto = 0,
  VL_ZSTD_ps_disable = 2,
  VL_ZSTD_d_windowLogMax = 100,
};

static ZSTD_CCtx *g_cctx;
static ZSTD_DCtx *g_dctx;

/* Negative results carry the zstd error code (a small positive number) negated, so JS can name it. */
static int32_t vl_result(size_t r) {
  if (ZSTD_isError(r)) return -(int32_t)(0 - r);
  return (int32_t)r;
}

VL_EXPORT("vl_zstd_init") int32_t vl_zstd_init(void) {
  if (!g_cctx) g_cctx = ZSTD_createCCtx();
  if (!g_dctx) {
    g_dctx = ZSTD_createDCtx();
    /* Bound the window a frame may demand (128 MiB): a hostile header cannot make us reserve more. */
    if (g_dctx) ZSTD_DCtx_setParameter(g_dctx, VL_ZSTD_d_windowLogMax, 27);
  }
  return (g_cctx && g_dctx) ? 0 : -1;
}

VL_EXPORT("vl_zstd_compress_bound") uint32_t vl_zstd_compress_bound(uint32_t n) {
  return (uint32_t)ZSTD_compressBound(n);
}

VL_EXPORT("vl_zstd_error_name") const char *vl_zstd_error_name(int32_t negCode) {
  return ZSTD_getErrorName((size_t)0 - (size_t)(uint32_t)(-negCode));
}

static int32_t vl_configure_cctx(int32_t level, int32_t entropy) {
  size_t r = ZSTD_CCtx_reset(g_cctx, VL_ZSTD_reset_session_and_parameters);
  if (ZSTD_isError(r)) return vl_result(r);
  r = ZSTD_CCtx_setParameter(g_cctx, VL_ZSTD_c_compressionLevel, level);
  if (ZSTD_isError(r)) return vl_result(r);
  r = ZSTD_CCtx_setParameter(g_cctx, VL_ZSTD_c_checksumFlag, 0);
  if (ZSTD_isError(r)) return vl_result(r);
  r = ZSTD_CCtx_setParameter(g_cctx, VL_ZSTD_c_contentSizeFlag, 1);
  if (ZSTD_isError(r)) return vl_result(r);
  r = ZSTD_CCtx_setParameter(g_cctx, VL_ZSTD_c_dictIDFlag, 1);
  if (ZSTD_isError(r)) return vl_result(r);
  r = ZSTD_CCtx_setParameter(g_cctx, VL_ZSTD_c_literalCompressionMode,
                             entropy ? VL_ZSTD_ps_auto : VL_ZSTD_ps_disable);
  return vl_result(r);
}

/* Compresses src into dst (at most cap bytes) with an optional prepared dictionary. */
VL_EXPORT("vl_zstd_compress")
int32_t vl_zstd_compress(const uint8_t *src, uint32_t n, uint8_t *dst, uint32_t cap,
                         const ZSTD_CDict *cdict, int32_t level, int32_t entropy) {
  int32_t rc = vl_configure_cctx(level, entropy);
  if (rc < 0) return rc;
  if (cdict) {
    size_t r = ZSTD_CCtx_refCDict(g_cctx, cdict);
    if (ZSTD_isError(r)) return vl_result(r);
  }
  return vl_result(ZSTD_compress2(g_cctx, dst, cap, src, n));
}

/* Decompresses exactly into dst[0..cap); the caller compares the result with the size it expects. */
VL_EXPORT("vl_zstd_decompress")
int32_t vl_zstd_decompress(const uint8_t *src, uint32_t n, uint8_t *dst, uint32_t cap,
                           const ZSTD_DDict *ddict) {
  size_t r = ddict ? ZSTD_decompress_usingDDict(g_dctx, dst, cap, src, n, ddict)
                   : ZSTD_decompressDCtx(g_dctx, dst, cap, src, n);
  if (ZSTD_isError(r)) ZSTD_DCtx_reset(g_dctx, 1 /* session only: keep windowLogMax */);
  return vl_result(r);
}

/* Declared content size of the first frame: -1 unknown (streamed frame), -2 malformed header. */
VL_EXPORT("vl_zstd_frame_content_size")
int64_t vl_zstd_frame_content_size(const uint8_t *src, uint32_t n) {
  unsigned long long s = ZSTD_getFrameContentSize(src, n);
  if (s == (0ULL - 1)) return -1; /* ZSTD_CONTENTSIZE_UNKNOWN */
  if (s == (0ULL - 2)) return -2; /* ZSTD_CONTENTSIZE_ERROR */
  if (s > 0x7fffffffffffULL) return -2;
  return (int64_t)s;
}

VL_EXPORT("vl_zstd_frame_dict_id") uint32_t vl_zstd_frame_dict_id(const uint8_t *src, uint32_t n) {
  return ZSTD_getDictID_fromFrame(src, n);
}

VL_EXPORT("vl_zstd_dict_id") uint32_t vl_zstd_dict_id(const uint8_t *dict, uint32_t n) {
  return ZSTD_getDictID_fromDict(dict, n);
}

VL_EXPORT("vl_zstd_create_cdict")
ZSTD_CDict *vl_zstd_create_cdict(const uint8_t *dict, uint32_t n, int32_t level) {
  return ZSTD_createCDict(dict, n, level);
}

VL_EXPORT("vl_zstd_create_ddict") ZSTD_DDict *vl_zstd_create_ddict(const uint8_t *dict, uint32_t n) {
  return ZSTD_createDDict(dict, n);
}

VL_EXPORT("vl_zstd_free_cdict") void vl_zstd_free_cdict(ZSTD_CDict *p) { ZSTD_freeCDict(p); }
VL_EXPORT("vl_zstd_free_ddict") void vl_zstd_free_ddict(ZSTD_DDict *p) { ZSTD_freeDDict(p); }

/* Trains a dictionary of at most cap bytes whose header carries dictId. The samples are laid end to
 * end in `samples`; `sizes` holds nSamples u32 lengths. Returns the dictionary size or a negative
 * error (-1 for any training failure: too few or too uniform samples). */
VL_EXPORT("vl_zdict_train")
int32_t vl_zdict_train(uint8_t *dict, uint32_t cap, const uint8_t *samples, const uint32_t *sizes,
                       uint32_t nSamples, uint32_t dictId, int32_t level) {
  size_t *sz = (size_t *)malloc(sizeof(size_t) * (nSamples ? nSamples : 1));
  if (!sz) return -2;
  for (uint32_t i = 0; i < nSamples; i++) sz[i] = sizes[i];
  ZDICT_fastCover_params_t p;
  memset(&p, 0, sizeof p);
  /* The same search ZDICT_trainFromBuffer runs, with the caller's dictionary id. */
  p.d = 8;
  p.steps = 4;
  p.f = 20;
  p.accel = 1;
  p.nbThreads = 1;
  p.zParams.compressionLevel = level;
  p.zParams.dictID = dictId;
  size_t r = ZDICT_optimizeTrainFromBuffer_fastCover(dict, cap, samples, sz, nSamples, &p);
  free(sz);
  if (ZDICT_isError(r)) return -1;
  return (int32_t)r;
}

VL_EXPORT("vl_malloc") void *vl_malloc(uint32_t n) { return malloc(n ? n : 1); }
VL_EXPORT("vl_free") void vl_free(void *p) { free(p); }
