// What ValueLog.stats() returns, and the per-segment part of it. Plain JSON: no bigint anywhere, so
// that JSON.stringify(log.stats()) works and the browser client can pass it through postMessage.
import type { DamagedDictionary, DictionaryInfo } from './dictionaries.js';
import { decodeFileId, encodeFileId } from './format/segment.js';
import type { GarbageTracker } from './garbage.js';
import type { SegmentRecovery } from './recovery.js';

/** How frames were stored since open: raw ('none') or compressed with a codec. */
export type FrameCodec = 'none' | 'snappy' | 'lz4' | 'zstd-dict';

/** What compression did since open, in stats(). */
export interface CompressionStats {
  /** Value bytes put into frames. */
  rawBytes: number;
  /** Payload bytes stored for them (compressed or raw). */
  storedBytes: number;
  /** Frames written, by how they were stored. */
  frames: Record<FrameCodec, number>;
  /** Values written, by how their frame was stored. */
  values: Record<FrameCodec, number>;
  /** 'auto' only: the observed stored/raw ratios it chooses by (undefined until observed). */
  autoRatios: { lz4: number | undefined; zstdDict: number | undefined } | undefined;
}

/** A dictionary in stats(): as DictionaryInfo, with the id as a number (ids are 1..2^32-1). */
export type DictionaryStatsEntry = Omit<DictionaryInfo, 'id'> & { id: number };
/** A damaged dictionary file in stats(), its id as a number. */
export type DamagedDictionaryStats = Omit<DamagedDictionary, 'id'> & { id: number | undefined };
/** What open() did to a torn tail, as in stats(): the largest RID as a decimal string (RIDs are u64). */
export type RecoveryStats = Omit<SegmentRecovery, 'maxRid'> & { maxRid: string };

/**
 * Dictionaries in stats(). Like every part of ValueLogStats it holds no bigint, so that
 * JSON.stringify(log.stats()) works: dictionary ids are numbers (1..2^32-1, exact).
 */
export interface DictionaryStats {
  /** Id new frames are compressed with ('zstd-dict'/'auto'), if there is a dictionary. */
  current: number | undefined;
  /** Every sound dictionary in the store, with frames/values written with it since open. */
  dictionaries: DictionaryStatsEntry[];
  /** Files that failed their checks: never used; frames that need them fail with CORRUPT. */
  damaged: DamagedDictionaryStats[];
  /** Dictionaries trained automatically (by policy) since open. */
  trainedByPolicy: number;
  /** Dictionaries trained by trainDictionary() since open. */
  trainedOnRequest: number;
  /** A policy training is running in the background. */
  training: boolean;
  /** Why the last policy training failed (it is retried later), if it did. */
  lastTrainingError: string | undefined;
  /** Bytes of recent values held as training samples. */
  sampleBytes: number;
}

/** One segment in stats(). */
export interface SegmentStats {
  /** The segment's file name. */
  name: string;
  /** Its file id (as in pointers). */
  fileId: number;
  /** Its lane. */
  lane: number;
  /** Its sequence number in the lane. */
  seq: number;
  /** Its size in bytes, including appended bytes not yet flushed. */
  bytes: number;
  /** It is a lane's active segment (appended to; never compacted). */
  active: boolean;
  /** Snapshots holding this segment. */
  pins: number;
  /** Bytes of values marked dead (each value's share of its record), and what that leaves live. */
  deadBytes: number;
  /** bytes - deadBytes. */
  liveBytes: number;
  /** deadBytes / bytes (0 for an empty segment). */
  garbageRatio: number;
  /** Values marked dead. */
  deadValues: number;
  /** Compacted away; deleted when the last snapshot holding it is released. */
  zombie: boolean;
}

/** What ValueLog.stats() returns: plain JSON (no bigint). */
export interface ValueLogStats {
  /** Every tracked segment, in id order. */
  segments: SegmentStats[];
  /** Sum of the segments' bytes. */
  totalBytes: number;
  /** Sum of the segments' dead bytes. */
  deadBytes: number;
  /** What open() did to torn tails (empty when every segment was clean). */
  recovered: RecoveryStats[];
  /** Values put since open. */
  puts: number;
  /** commit() calls since open. */
  commits: number;
  /** Durable syncs actually issued: fewer than commits when concurrent commits were grouped. */
  syncs: number;
  /** What compression did since open. */
  compression: CompressionStats;
  /** The dictionary store and training. */
  dictionaries: DictionaryStats;
  /** Opened with { readOnly: true }. */
  readOnly: boolean;
  /**
   * The directory lock this log holds (undefined when read-only or when the backend has no lock()).
   * tookOver: the previous owner died without closing the log (an unclean shutdown).
   */
  lock: { holder: string; tookOver: boolean } | undefined;
}

/** @internal One segment's stats from its size and the dead values the tracker holds for it. */
export function segmentStats(garbage: GarbageTracker, s: Omit<SegmentStats, 'deadBytes' | 'liveBytes' | 'garbageRatio' | 'deadValues'>): SegmentStats {
  const deadBytes = Math.min(s.bytes, garbage.deadBytes(s.fileId));
  return {
    ...s,
    deadBytes,
    liveBytes: s.bytes - deadBytes,
    garbageRatio: s.bytes > 0 ? deadBytes / s.bytes : 0,
    deadValues: garbage.deadValues(s.fileId),
  };
}

/** @internal The highest segment of each lane: the one a writer beside a read-only log appends to. */
export function lastSegmentPerLane(ids: number[]): Set<number> {
  const last = new Map<number, number>();
  for (const id of ids) {
    const { lane, seq } = decodeFileId(id);
    if ((last.get(lane) ?? -1) < seq) last.set(lane, seq);
  }
  return new Set([...last].map(([lane, seq]) => encodeFileId(lane, seq)));
}
