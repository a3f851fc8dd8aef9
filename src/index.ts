// valuelog: a WiscKey-style value log for every JavaScript runtime, byte-compatible with the Go
// valuelog v0.3.0 on-disk format. See README.md, docs/DESIGN.md and the API reference (npm run docs).
export { ValueLogError, UnsupportedBlockCodecError, type ErrorCode } from './errors.js';
export {
  VERSION,
  HEADER_SIZE,
  FRAME_VERSION,
  FRAME_HEADER_SIZE,
  MAX_FRAME_K,
  FRAME_FLAG_COMPRESSED,
  RECORD_FLAG_GROUPED,
  DEFAULT_KEEP_SAFETY_MARGIN,
  VALUE_PTR_SIZE,
  GROUPED_MAX_RECORD_LEN,
  limits,
} from './limits.js';
export * from './codec/index.js';
export {
  encodeSegmentId,
  decodeSegmentId,
  encodeFileId,
  decodeFileId,
  isValueLogFileId,
  segmentFileName,
  parseSegmentFileName,
  MAX_LANE,
  MAX_SEQ,
} from './format/segment.js';
export {
  type ValuePtr,
  isGroupedPtr,
  ptrSubIndex,
  ptrRecordLength,
  isCompressedPtr,
  markGrouped,
  encodeValuePtr,
  decodeValuePtr,
  ptrToString,
  ptrFromString,
  PTR_STRING_LENGTH,
} from './format/pointer.js';
export { type RecordHeader, decodeRecordHeader, encodeRecord } from './format/record.js';
export {
  BlockCodec,
  type FrameHeader,
  type LogRecord,
  type DecodedFrame,
  type DictLookup,
  type EncodeFrameOptions,
  encodeFrame,
  decodeFrame,
  decodeFramePayload,
  decodeFrameValues,
  framePrefixLength,
} from './format/frame.js';
export {
  type TemplateDecodeOptions,
  type TemplateLookup,
  type TemplateDef,
  TemplateDefCache,
  isTemplateEncoded,
  parseTemplateDef,
  decodeTemplateValue,
  encodeTemplateDefAnchors,
  encodeTemplateDefMask,
  encodeTemplateValueAnchors,
  encodeTemplateValueMask,
} from './format/template.js';
export { FramePreparer, type FrameStats, type PreparedFrame, type FrameParts } from './frame-preparer.js';
export { Writer, type WriterOptions, type AppendOptions, type WriterIoStats, type ByteSink, DEFAULT_WRITER_BUFFER } from './writer.js';
export { Reader, type ReaderEntry, type ReaderOptions } from './reader.js';
export { Manager, ValueSet, type SegmentInfo, FRAME_CACHE_MAX_BYTES } from './manager.js';
export { type StorageBackend, type StorageFile, type StorageLock, type OpenOptions, checkPosition } from './storage/types.js';
export { MemoryStorage, type MemoryStorageOptions } from './storage/memory.js';
export { OpfsStorage, OPFS_MAX_HANDLES, type OpfsStorageOptions } from './storage/opfs.js';
export { ValueLog, Snapshot } from './valuelog.js';
export { PointerRemap, type CompactionProblem } from './remap.js';
export { type ValueLogOptions, type PutOptions, type Compression, type CompactOptions, type DictionaryOptions, type DictionaryTrainOptions } from './log-options.js';
export {
  type ValueLogStats,
  type SegmentStats,
  type DictionaryStats,
  type DictionaryStatsEntry,
  type DamagedDictionaryStats,
  type RecoveryStats,
  type CompressionStats,
  type FrameCodec,
} from './log-stats.js';
export { DictionaryStore, type DictionaryInfo, type DamagedDictionary } from './dictionaries.js';
export { type DictionarySource } from './foreign-dictionaries.js';
export {
  dictFileName,
  parseDictFileName,
  encodeDictFile,
  decodeDictFile,
  decodeDictFileHeader,
  DICT_FILE_HEADER_SIZE,
  DICT_HIGHWATER_NAME,
} from './format/dictionary.js';
export { sidecarName, DEAD_ENTRY_SIZE } from './garbage.js';
export { type SegmentRecovery } from './recovery.js';
export {
  shouldKeepCompressed,
  chooseBlockGroupK,
  normalizeBlockTargetCompressedBytes,
  AutotuneMode,
  type AutotuneOptions,
  normalizeAutotuneOptions,
  autotuneWorkloads,
  lookupAutotuneWorkload,
  generateAutotuneValues,
  type AutotuneWorkload,
  SeededRandom,
} from './policy.js';
export {
  type Clock,
  type AdvanceableClock,
  RealClock,
  VirtualClock,
  VirtualSink,
  type EncodeCostModel,
  encodeCostModelFunc,
} from './clock.js';
