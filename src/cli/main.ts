// The `valuelog` command (Node, Deno, Bun). Read-only commands (inspect, verify, dump, stats,
// train-dict without --add) never modify the directory: they do not run crash recovery. They find the
// log's dictionaries in its dictionary store. `compact` opens the log
// (recovering torn tails) and rewrites. Long runs show a progress bar on a terminal, plain lines
// otherwise.
import { closeSync, fsyncSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import {
  decodeFileId,
  decodeFrame,
  decodeRecordHeader,
  dictFileName,
  DictionaryStore,
  FRAME_FLAG_COMPRESSED,
  HEADER_SIZE,
  init,
  NodeStorage,
  parseSegmentFileName,
  Reader,
  trainDictionary,
  ValueLog,
  ValueLogError,
  type Compression,
  type StorageBackend,
} from '../index.node.js';
import { GarbageTracker } from '../garbage.js';
import { runDemo } from './demo.js';

const USAGE = `usage: valuelog <command> [options]

  inspect <dir>                 segments, lanes, records, frames, codecs, compression ratio, garbage,
                                dictionaries
  verify <dir> [--dict ID=FILE]  check CRC and structure of every record and every dictionary file;
                                exit 1 on damage (the log's own dictionaries are found automatically)
  dump <segment-file> [--values] JSON lines: rid, pointer, size (and the value, base64)
  stats <dir>                   per-segment bytes and garbage as JSON
  compact <dir> [--min-garbage-ratio R] [--max-bytes N] [--remap FILE] [--compression MODE]
                                copy live values out of garbage-heavy segments; the old -> new
                                pointer remap goes to FILE as JSON lines (default: stdout), written
                                and synced before any old segment is deleted; re-framed
                                values are compressed with MODE (none, snappy, lz4, zstd-dict, auto;
                                default none)
  train-dict <dir> --id ID --size BYTES --out FILE [--samples N]
                                train a zstd dictionary from values in the segments
  train-dict <dir> --add --size BYTES [--out FILE] [--samples N]
                                the same, stored in the log's dictionary store under its next id
                                (the log must not be open elsewhere); 'zstd-dict' logs then use it
  demo                          the demo (also: npm run demo)
`;

class UsageError extends Error {}

function parseArgs(argv: string[]): { pos: string[]; flags: Map<string, string[]> } {
  const pos: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const [k, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
      const boolean = k === 'values' || k === 'help' || k === 'add';
      const v = inline ?? (boolean ? 'true' : argv[++i]);
      if (v === undefined) throw new UsageError(`--${k} needs a value`);
      flags.set(k, [...(flags.get(k) ?? []), v]);
    } else pos.push(a);
  }
  return { pos, flags };
}

function num(flags: Map<string, string[]>, k: string, dflt?: number): number | undefined {
  const v = flags.get(k)?.[0];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${k} must be a number, got ${v}`);
  return n;
}

/** A progress reporter: a redrawn bar on a terminal, a line every 10% otherwise. */
function progress(label: string, total: number): { tick(done: number): void; end(): void } {
  const tty = Boolean(process.stderr.isTTY);
  let lastPct = -1;
  return {
    tick(done) {
      const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
      if (tty) {
        if (pct === lastPct) return;
        const width = 30;
        const fill = Math.round((pct / 100) * width);
        process.stderr.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${String(pct).padStart(3)}%`);
      } else if (pct >= lastPct + 10 || (pct === 100 && lastPct !== 100)) {
        process.stderr.write(`${label}: ${pct}%\n`);
      } else return;
      lastPct = pct;
    },
    end() {
      if (tty && lastPct >= 0) process.stderr.write('\n');
    },
  };
}

interface SegmentFile {
  name: string;
  id: number;
  bytes: number;
}

async function segments(storage: StorageBackend): Promise<SegmentFile[]> {
  const out: SegmentFile[] = [];
  for (const name of await storage.list()) {
    const id = parseSegmentFileName(name);
    if (id === undefined) continue;
    const f = await storage.open(name, { readOnly: true });
    out.push({ name, id, bytes: f.size() });
    f.close();
  }
  return out.sort((a, b) => a.id - b.id);
}

/** Compressed frames without a dictionary: the reserved byte names the codec (0 = plain zstd). */
const BLOCK_CODECS = ['zstd', 'snappy', 'lz4'];
function codecOf(flags: number, reserved: number, dictId: bigint): string {
  if ((flags & FRAME_FLAG_COMPRESSED) === 0) return 'raw';
  if (dictId !== 0n) return 'zstd-dict';
  return BLOCK_CODECS[reserved] ?? `codec-${reserved}`;
}

/** Walks records without decoding payloads (CRC checked); calls back per record. */
function walk(file: { read(d: Uint8Array, at: number): number; size(): number }, each: (at: number, header: ReturnType<typeof decodeRecordHeader>, payload: Uint8Array) => void): { end: number; error?: ValueLogError } {
  const size = file.size();
  let at = 0;
  const head = new Uint8Array(HEADER_SIZE);
  while (at < size) {
    try {
      if (file.read(head, at) < HEADER_SIZE) throw new ValueLogError('UNEXPECTED_EOF', `valuelog: partial record header at ${at}`);
      const h = decodeRecordHeader(head);
      const payload = new Uint8Array(h.valueLen);
      if (file.read(payload, at + HEADER_SIZE) < h.valueLen) throw new ValueLogError('UNEXPECTED_EOF', `valuelog: record at ${at} needs ${h.valueLen} payload bytes`);
      each(at, h, payload);
      at += HEADER_SIZE + h.valueLen;
    } catch (e) {
      if (e instanceof ValueLogError) return { end: at, error: e };
      throw e;
    }
  }
  return { end: at };
}

async function inspect(dir: string): Promise<number> {
  const storage = new NodeStorage(dir);
  const segs = await segments(storage);
  const garbage = new GarbageTracker();
  for (const s of segs) await garbage.load(storage, s.id);
  const codecs = new Map<string, number>();
  let records = 0, frames = 0, values = 0, raw = 0, stored = 0, damaged = 0;
  console.log(`${dir}: ${segs.length} segment(s)`);
  console.log(`${'segment'.padEnd(24)}${'lane'.padStart(5)}${'seq'.padStart(9)}${'bytes'.padStart(12)}${'records'.padStart(9)}${'values'.padStart(9)}${'garbage'.padStart(9)}`);
  for (const s of segs) {
    const f = await storage.open(s.name, { readOnly: true });
    let segRecords = 0, segValues = 0;
    const r = walk(f, (_at, h, payload) => {
      segRecords++;
      if ((h.flags & 1) === 0) {
        segValues++;
        raw += payload.length;
        stored += payload.length;
        codecs.set('legacy', (codecs.get('legacy') ?? 0) + 1);
        return;
      }
      const fr = decodeFrame(payload);
      frames++;
      segValues += fr.header.k;
      raw += fr.offsets[fr.header.k]!;
      stored += fr.payload.length;
      const c = codecOf(fr.header.flags, fr.header.reserved, fr.header.dictId);
      codecs.set(c, (codecs.get(c) ?? 0) + 1);
    });
    f.close();
    if (r.error) damaged++;
    records += segRecords;
    values += segValues;
    const { lane, seq } = decodeFileId(s.id);
    const ratio = s.bytes > 0 ? garbage.deadBytes(s.id) / s.bytes : 0;
    console.log(`${s.name.padEnd(24)}${String(lane).padStart(5)}${String(seq).padStart(9)}${String(s.bytes).padStart(12)}${String(segRecords).padStart(9)}${String(segValues).padStart(9)}${(ratio * 100).toFixed(1).padStart(8)}%${r.error ? `  DAMAGED at ${r.end}: ${r.error.message}` : ''}`);
  }
  const total = segs.reduce((a, s) => a + s.bytes, 0);
  const dead = segs.reduce((a, s) => a + garbage.deadBytes(s.id), 0);
  console.log(`total: ${total} bytes, ${records} records, ${frames} frames, ${values} values`);
  console.log(`codecs (frames): ${[...codecs].map(([c, n]) => `${c} ${n}`).join(', ') || 'none'}`);
  console.log(`compression: ${raw} raw payload bytes stored in ${stored} (ratio ${stored > 0 ? (raw / stored).toFixed(2) : '-'})`);
  console.log(`garbage: ${dead} bytes marked dead (${total > 0 ? ((dead / total) * 100).toFixed(1) : '0.0'}%)`);
  const store = await DictionaryStore.open(storage);
  const dicts = store.info();
  console.log(`dictionaries: ${dicts.length === 0 ? 'none' : dicts.map((d) => `${d.id} (${d.bytes} bytes)`).join(', ')}${store.current ? `; newest ${store.current.id}` : ''}`);
  for (const d of store.damaged()) console.log(`${d.file}: DAMAGED: ${d.reason}`);
  if (damaged > 0) console.log(`${damaged} damaged segment(s): run \`valuelog verify\` for details`);
  return 0;
}

async function verify(dir: string, dictFlags: string[]): Promise<number> {
  const dicts = new Map<bigint, Uint8Array>();
  for (const d of dictFlags) {
    const [id, file] = d.split('=', 2) as [string, string | undefined];
    if (!file || !/^\d+$/.test(id)) throw new UsageError(`--dict expects ID=FILE, got ${d}`);
    dicts.set(BigInt(id), new Uint8Array(readFileSync(file)));
  }
  const storage = new NodeStorage(dir);
  // The log's own dictionaries; --dict adds or overrides. A damaged one is reported once and its
  // frames are then checked without decoding their values.
  const store = await DictionaryStore.open(storage);
  const lookup = (id: bigint) => dicts.get(id) ?? store.get(id);
  const segs = await segments(storage);
  const total = segs.reduce((a, s) => a + s.bytes, 0);
  const bar = progress('verify', total);
  let done = 0, values = 0, bad = 0, skippedDict = 0;
  const problems: string[] = [];
  for (const d of store.damaged()) {
    if (d.id !== undefined && dicts.has(d.id)) continue;
    bad++;
    problems.push(`${d.file}: DAMAGED: ${d.reason}`);
  }
  for (const s of segs) {
    const r = await Reader.open(storage, s.id);
    r.setDictLookup(lookup);
    let decoding = true;
    for (;;) {
      try {
        const e = r.next();
        if (e === undefined) break;
        values++;
      } catch (err) {
        if (!(err instanceof ValueLogError)) throw err;
        if (decoding && err.code === 'MISSING_DICT') {
          // CRC and structure are still checked for the rest of the segment; only values are not.
          skippedDict++;
          problems.push(`${s.name}: offset ${r.offset}: ${err.message}; values of this segment not decoded (pass --dict <id>=<file>)`);
          decoding = false;
          r.disableValueDecode();
          continue;
        }
        bad++;
        problems.push(`${s.name}: offset ${r.offset}: ${err.code}: ${err.message}`);
        break;
      }
      if ((values & 1023) === 0) bar.tick(done + r.offset);
    }
    r.close();
    done += s.bytes;
    bar.tick(done);
  }
  bar.end();
  for (const p of problems) console.log(p);
  console.log(`${bad === 0 ? 'OK' : 'DAMAGED'}: ${segs.length} segment(s), ${values} values verified${bad ? `, ${bad} damaged segment(s) or dictionaries` : ''}${skippedDict ? `, ${skippedDict} segment(s) need dictionaries` : ''}`);
  return bad === 0 ? 0 : 1;
}

async function dump(path: string, withValues: boolean): Promise<number> {
  const name = basename(path);
  const id = parseSegmentFileName(name);
  if (id === undefined) throw new UsageError(`${name} is not a segment file name (value-l<lane>-<seq>.log)`);
  const storage = new NodeStorage(dirname(path));
  const r = await Reader.open(storage, id);
  r.setDictLookup((await DictionaryStore.open(storage)).lookup);
  let n = 0;
  for (const e of r) {
    const line: Record<string, unknown> = { rid: e.rid.toString(), ptr: e.ptr, size: e.value!.length };
    if (withValues) line.value = Buffer.from(e.value!).toString('base64');
    console.log(JSON.stringify(line));
    n++;
  }
  r.close();
  process.stderr.write(`${n} values\n`);
  return 0;
}

async function stats(dir: string): Promise<number> {
  const storage = new NodeStorage(dir);
  const garbage = new GarbageTracker();
  const out = [];
  for (const s of await segments(storage)) {
    await garbage.load(storage, s.id);
    const { lane, seq } = decodeFileId(s.id);
    const dead = Math.min(s.bytes, garbage.deadBytes(s.id));
    out.push({ segment: s.name, lane, seq, bytes: s.bytes, deadBytes: dead, garbageRatio: s.bytes > 0 ? dead / s.bytes : 0, deadValues: garbage.deadValues(s.id) });
  }
  const store = await DictionaryStore.open(storage);
  const dictionaries = store.info().map((d) => ({ id: Number(d.id), file: d.file, bytes: d.bytes }));
  const damaged = store.damaged().map((d) => ({ file: d.file, reason: d.reason }));
  console.log(JSON.stringify({ segments: out, totalBytes: out.reduce((a, s) => a + s.bytes, 0), deadBytes: out.reduce((a, s) => a + s.deadBytes, 0), dictionaries, damagedDictionaries: damaged }, null, 2));
  return 0;
}

async function compact(dir: string, flags: Map<string, string[]>): Promise<number> {
  // The remap file is opened (created) first: a path that cannot be written stops the command before
  // the log is even opened, so nothing is compacted, let alone deleted.
  const out = flags.get('remap')?.[0];
  let fd: number | undefined;
  if (out !== undefined) {
    try {
      fd = openSync(out, 'w');
    } catch (e) {
      throw new ValueLogError('IO', `cannot write the remap file ${out}: ${e instanceof Error ? e.message : String(e)}; nothing was compacted`, { cause: e });
    }
  }
  try {
    const storage = new NodeStorage(dir);
    const lanes = new Set((await segments(storage)).map((s) => decodeFileId(s.id).lane));
    const compression = (flags.get('compression')?.[0] ?? 'none') as Compression;
    const log = await ValueLog.open(storage, { lanes: Math.max(1, ...[...lanes].map((l) => l + 1)), compression, dictionary: { trainAfterBytes: 0 } });
    for (const r of log.stats().recovered) process.stderr.write(`recovered ${r.segment}: truncated ${r.droppedBytes} bytes at ${r.validBytes}\n`);
    let bar: ReturnType<typeof progress> | undefined;
    let remap;
    try {
      remap = await log.compact({
        minGarbageRatio: num(flags, 'min-garbage-ratio', 0.5)!,
        maxBytes: num(flags, 'max-bytes', Infinity)!,
        onProgress: (done, total) => (bar ??= progress('compact', total)).tick(done),
        // The remap is durable before any old segment may go: a failure here leaves every segment.
        onRemap: async (r) => {
          bar?.end();
          bar = undefined;
          const text = [...r].map(([o, n]) => JSON.stringify({ old: o, new: n }) + '\n').join('');
          if (fd === undefined) {
            await new Promise<void>((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
            return;
          }
          const bytes = new TextEncoder().encode(text);
          for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
          fsyncSync(fd);
          syncParentDir(out!);
        },
      });
    } finally {
      await log.close();
    }
    for (const s of remap.skippedSegments) process.stderr.write(`skipped ${s.segment}: ${s.error.message}\n`);
    for (const s of remap.deleteErrors) process.stderr.write(`could not delete ${s.segment} (deleted by the next compact): ${s.error.message}\n`);
    process.stderr.write(`compacted ${remap.compactedSegments.length} segment(s), moved ${remap.size} value(s)${remap.skippedSegments.length ? `, skipped ${remap.skippedSegments.length} damaged segment(s)` : ''}\n`);
    return 0;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Makes a new file's directory entry durable where the platform allows opening a directory. */
function syncParentDir(file: string): void {
  let d: number | undefined;
  try {
    d = openSync(dirname(file), 'r');
    fsyncSync(d);
  } catch {
    // Not supported here (e.g. Windows): the file's own fsync is what can be done.
  } finally {
    if (d !== undefined) closeSync(d);
  }
}

async function trainDict(dir: string, flags: Map<string, string[]>): Promise<number> {
  const id = num(flags, 'id');
  const size = num(flags, 'size');
  const out = flags.get('out')?.[0];
  const add = flags.has('add');
  if (add ? id !== undefined || size === undefined : id === undefined || size === undefined || out === undefined) {
    throw new UsageError(add ? 'train-dict --add needs --size (and no --id: the store allocates ids)' : 'train-dict needs --id, --size and --out (or --add)');
  }
  const limit = num(flags, 'samples', 20000)!;
  const storage = new NodeStorage(dir);
  const store = await DictionaryStore.open(storage);
  const samples: Uint8Array[] = [];
  for (const s of await segments(storage)) {
    const r = await Reader.open(storage, s.id);
    r.setDictLookup(store.lookup);
    try {
      for (const e of r) {
        if (e.value && e.value.length > 0) samples.push(e.value);
        if (samples.length >= limit) break;
      }
    } catch (e) {
      if (!(e instanceof ValueLogError)) throw e;
    } finally {
      r.close();
    }
    if (samples.length >= limit) break;
  }
  if (add) {
    const r = await store.train(samples, { size: size! });
    const bytes = store.get(r.id)!;
    if (out !== undefined) writeFileSync(out, bytes);
    console.log(r.created
      ? `added a ${bytes.length}-byte dictionary (id ${r.id}, ${dictFileName(r.id)}) trained from ${samples.length} values`
      : `the store already holds this dictionary as id ${r.id}: nothing added`);
    return 0;
  }
  const dict = trainDictionary(samples, { size: size!, dictId: id! });
  writeFileSync(out!, dict);
  console.log(`trained a ${dict.length}-byte dictionary (id ${id}) from ${samples.length} values into ${out}`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const { pos, flags } = parseArgs(rest);
  if (!cmd || cmd === '--help' || cmd === 'help' || flags.has('help')) {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  await init();
  const need = (n: number) => {
    if (pos.length < n) throw new UsageError(`${cmd} needs ${n === 1 ? 'a directory' : `${n} arguments`}`);
  };
  switch (cmd) {
    case 'inspect': need(1); return inspect(pos[0]!);
    case 'verify': need(1); return verify(pos[0]!, flags.get('dict') ?? []);
    case 'dump': need(1); return dump(pos[0]!, flags.has('values'));
    case 'stats': need(1); return stats(pos[0]!);
    case 'compact': need(1); return compact(pos[0]!, flags);
    case 'train-dict': need(1); return trainDict(pos[0]!, flags);
    case 'demo': await runDemo(); return 0;
    default: throw new UsageError(`unknown command ${cmd}`);
  }
}

/**
 * Exits once stdout and stderr are drained: on a pipe that is full, Node queues writes, and
 * process.exit() would drop them (a long `dump` into a pipe lost its tail).
 */
function exitAfterOutput(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

main(process.argv.slice(2)).then(
  (code) => exitAfterOutput(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`valuelog: ${err.message}\n\n${USAGE}`);
      exitAfterOutput(2);
      return;
    }
    process.stderr.write(`valuelog: ${err instanceof Error ? err.message : String(err)}\n`);
    exitAfterOutput(1);
  },
);
