// The WebAssembly module's TypeScript face: one init(), then synchronous codecs and CRC-32C.
export { init, isInitialized, wasmMemoryBytes } from './module.js';
export {
  crc32c,
  lz4Compress,
  lz4Decompress,
  snappyCompress,
  snappyDecompress,
  zstdCompress,
  zstdDecompress,
  zstdFrameDictId,
  zstdDictionaryId,
  trainDictionary,
  normalizeZstdLevel,
  preparedDictionaryCount,
  ZstdLevel,
  DICT_CACHE_CAPACITY,
  MAX_TRAINING_BYTES,
  type ZstdCompressOptions,
  type TrainDictionaryOptions,
} from './codecs.js';
