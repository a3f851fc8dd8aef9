// The `valuelog` command (Node, Deno, Bun). Read-only commands (inspect, verify, dump, stats,
// train-dict without --add) never modify the directory and take no lock, so they work beside the
// process that has the log open: they do not run crash recovery, and an incomplete last record of a
// lane's active segment (being written, or a torn write the next read-write open truncates) is where
// reading ends, not damage. They find the log's dictionaries in its dictionary store. `compact`
// opens the log (taking its lock, recovering torn tails) and rewrites. Long runs show a progress bar
// on a terminal, plain lines otherwise. Output goes through `out`, which waits for a full pipe to drain.
import { closeSync, fsyncSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import {
  decodeFileId,
  decodeFrame,
  decodeRecordHeader,
  decodeValuePtr,
  dictFileName,
  DictionaryStore,
  FRAME_FLAG_COMPRESSED,
  HEADER_SIZE,
  init,
  NodeStorage,
  parseSegmentFileName,
  Reader,
  sidecarName,
  trainDictionary,
  ValueLog,
  ValueLogError,
  zstdDictionaryId,
  type Compression,
  type StorageBackend,
} from '../index.node.js';
import { DEAD_ENTRY_SIZE, GarbageTracker } from '../garbage.js';
import { runDemo } from './demo.js';

const USAGE = `usage: valuelog <command> [options]
       valuelog --help | -h | --version

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
  dict import <dir> <file>      store a zstd dictionary file (e.g. one a Go-written log needs) in the
                                log's dictionary store under the id in its header; the same bytes
                                again change nothing, other bytes for a stored id are refused
                                (the log must not be open elsewhere)
  demo [--keep | --dir DIR]     the demo on ValueLog (also: npm run demo); --keep or --dir keeps its
                                logs and prints CLI commands to try on them

  inspect, verify, dump and stats only read (they take no lock and work beside a process that has
  the log open); compact, train-dict --add and dict import need the log closed elsewhere.
`;

class UsageError extends Error {}

/** A failure to report without the usage text (exit 1). */
class CliError extends Error {}

/** Flags each command accepts (value flags take the next argument or `=value`). */
const COMMAND_FLAGS: Record<string, { value: string[]; boolean: string[]; args: number }> = {
  inspect: { value: [], boolean: [], args: 1 },
  verify: { value: ['dict'], boolean: [], args: 1 },
  dump: { value: [], boolean: ['values'], args: 1 },
  stats: { value: [], boolean: [], args: 1 },
  compact: { value: ['min-garbage-ratio', 'max-bytes', 'remap', 'compression'], boolean: [], args: 1 },
  'train-dict': { value: ['id', 'size', 'out', 'samples'], boolean: ['add'], args: 1 },
  dict: { value: [], boolean: [], args: 3 },
  demo: { value: ['dir'], boolean: ['keep'], args: 0 },
};

function parseArgs(cmd: string, argv: string[]): { pos: string[]; flags: Map<string, string[]> } {
  const spec = COMMAND_FLAGS[cmd]!;
  const pos: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      pos.push(...argv.slice(i + 1));
      break;
    }
    if (a === '-h' || a === '--help') {
      flags.set('help', ['true']);
    } else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const k = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const inline = eq < 0 ? undefined : a.slice(eq + 1);
      const boolean = spec.boolean.includes(k);
      if (!boolean && !spec.value.includes(k)) {
        const known = [...spec.value, ...spec.boolean].map((f) => `--${f}`).join(', ');
        throw new UsageError(`${cmd}: unknown option --${k}${known ? ` (${cmd} takes ${known})` : ` (${cmd} takes no options)`}`);
      }
      if (boolean && inline !== undefined) throw new UsageError(`${cmd}: --${k} takes no value`);
      const v = boolean ? 'true' : (inline ?? argv[++i]);
      if (v === undefined) throw new UsageError(`${cmd}: --${k} needs a value`);
      flags.set(k, [...(flags.get(k) ?? []), v]);
    } else if (a.startsWith('-') && a.length > 1) {
      throw new UsageError(`${cmd}: unknown option ${a}`);
    } else pos.push(a);
  }
  if (!flags.has('help')) {
    if (pos.length < spec.args) throw new UsageError(`${cmd} needs ${spec.args === 1 ? (cmd === 'dump' ? 'a segment file' : 'a directory') : `${spec.args} arguments`}`);
    if (pos.length > spec.args) throw new UsageError(`${cmd}: unexpected argument ${JSON.stringify(pos[spec.args])}`);
  }
  return { pos, flags };
}

/**
 * Writes to stdout respecting backpressure: when a pipe is full, the next write waits for 'drain'
 * (console.log would queue without bound, and runtimes differ in what they flush at exit).
 */
const out = {
  async line(text: string): Promise<void> {
    let more: boolean;
    try {
      more = process.stdout.write(`${text}\n`);
    } catch (e) {
      return outputClosed(e); // Deno throws EPIPE from write() itself
    }
    if (!more) await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
  },
};

/**
 * The reader of our stdout went away (`valuelog dump ... | head`): stop quietly, with the status a
 * process killed by SIGPIPE reports (128 + 13), since not all output was delivered.
 */
function outputClosed(err: unknown): never {
  if ((err as { code?: string } | null)?.code !== 'EPIPE') throw err;
  process.exit(141);
}
process.stdout.on('error', outputClosed);

/** The directory of a read-only command: it must exist (a missing one is not an empty log). */
function existingDir(dir: string, cmd: string): string {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    throw new CliError(`${cmd}: ${dir}: ${(e as { code?: string }).code === 'ENOENT' ? 'no such directory' : e instanceof Error ? e.message : String(e)}`);
  }
  if (!isDir) throw new CliError(`${cmd}: ${dir} is not a directory`);
  return dir;
}

/** The version in the package.json next to this script (dist/) or above it (build/src/cli/). */
function version(): string {
  let url = new URL('.', import.meta.url);
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'valuelog' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: look one directory up
    }
    url = new URL('..', url);
  }
  return 'unknown';
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
  /**
   * A lane's active segment: the highest one, or the one before it when the highest is an empty one
   * opened ahead of rotation. Its last record may be in progress (or torn by a crash): not damage.
   */
  active: boolean;
}

async function segments(storage: StorageBackend): Promise<SegmentFile[]> {
  const found: SegmentFile[] = [];
  for (const name of await storage.list()) {
    const id = parseSegmentFileName(name);
    if (id === undefined) continue;
    let f;
    try {
      f = await storage.open(name, { readOnly: true });
    } catch (e) {
      if (e instanceof ValueLogError && e.code === 'NOT_FOUND') continue; // deleted meanwhile (compaction beside us)
      throw e;
    }
    found.push({ name, id, bytes: f.size(), active: false });
    f.close();
  }
  found.sort((a, b) => a.id - b.id);
  const byLane = new Map<number, SegmentFile[]>();
  for (const s of found) {
    const lane = decodeFileId(s.id).lane;
    byLane.set(lane, [...(byLane.get(lane) ?? []), s]);
  }
  for (const list of byLane.values()) {
    const last = list[list.length - 1]!;
    last.active = true;
    if (last.bytes === 0 && list.length > 1) list[list.length - 2]!.active = true;
  }
  return found;
}

/** An error that only means the last record is not complete (yet): where a reader's data ends. */
function incompleteTail(seg: SegmentFile, err: ValueLogError): boolean {
  return seg.active && err.code === 'UNEXPECTED_EOF';
}

/** Dead pointers in a segment's sidecar that name offsets past the segment's end (a truncated segment). */
async function sidecarPastEnd(storage: StorageBackend, seg: SegmentFile): Promise<number> {
  let f;
  try {
    f = await storage.open(sidecarName(seg.id), { readOnly: true });
  } catch (e) {
    if (e instanceof ValueLogError && e.code === 'NOT_FOUND') return 0;
    throw e;
  }
  try {
    const buf = new Uint8Array(f.size());
    f.read(buf, 0);
    let past = 0;
    for (let at = 0; at + DEAD_ENTRY_SIZE <= buf.length; at += DEAD_ENTRY_SIZE) {
      const p = decodeValuePtr(buf, at);
      if (p.offset - 4 >= seg.bytes) past++; // the record would start at or after the end
    }
    return past;
  } finally {
    f.close();
  }
}

/**
 * The log's dictionary store. A dictionary file being written by the process that has the log open
 * looks damaged until it is complete: damage is only believed after it persists for a moment.
 */
async function openDictionaries(storage: StorageBackend): Promise<DictionaryStore> {
  let store = await DictionaryStore.open(storage);
  for (let i = 0; i < 5 && store.damaged().length > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    store = await DictionaryStore.open(storage);
  }
  return store;
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
  const storage = new NodeStorage(existingDir(dir, 'inspect'));
  const segs = await segments(storage);
  const garbage = new GarbageTracker();
  for (const s of segs) await garbage.load(storage, s.id);
  const codecs = new Map<string, number>();
  let records = 0, frames = 0, values = 0, raw = 0, stored = 0, damaged = 0;
  const notes: string[] = [];
  await out.line(`${dir}: ${segs.length} segment(s)`);
  await out.line(`${'segment'.padEnd(24)}${'lane'.padStart(5)}${'seq'.padStart(9)}${'bytes'.padStart(12)}${'records'.padStart(9)}${'values'.padStart(9)}${'garbage'.padStart(9)}`);
  for (const s of segs) {
    let f;
    try {
      f = await storage.open(s.name, { readOnly: true });
    } catch (e) {
      if (e instanceof ValueLogError && e.code === 'NOT_FOUND') continue; // deleted meanwhile
      throw e;
    }
    let segRecords = 0, segValues = 0;
    const r = walk({ read: (d, at) => f.read(d, at), size: () => s.bytes }, (_at, h, payload) => {
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
    const tail = r.error !== undefined && incompleteTail(s, r.error);
    if (r.error && !tail) damaged++;
    records += segRecords;
    values += segValues;
    const { lane, seq } = decodeFileId(s.id);
    // A sidecar can count more dead bytes than a truncated segment still has: clamp, and say why.
    const dead = garbage.deadBytes(s.id);
    const ratio = s.bytes > 0 ? Math.min(dead, s.bytes) / s.bytes : 0;
    if (dead > s.bytes) {
      const past = await sidecarPastEnd(storage, s);
      notes.push(`${sidecarName(s.id)}: counts ${dead} dead bytes for a ${s.bytes}-byte segment${past > 0 ? `; ${past} of its dead pointers name offsets past the segment's end (truncated after they were marked?)` : ''}`);
    }
    const status = r.error === undefined ? '' : tail ? `  incomplete last record at ${r.end} (being written, or a torn write)` : `  DAMAGED at ${r.end}: ${r.error.message}`;
    await out.line(`${s.name.padEnd(24)}${String(lane).padStart(5)}${String(seq).padStart(9)}${String(s.bytes).padStart(12)}${String(segRecords).padStart(9)}${String(segValues).padStart(9)}${(ratio * 100).toFixed(1).padStart(8)}%${status}`);
  }
  const total = segs.reduce((a, s) => a + s.bytes, 0);
  const dead = segs.reduce((a, s) => a + Math.min(s.bytes, garbage.deadBytes(s.id)), 0);
  await out.line(`total: ${total} bytes, ${records} records, ${frames} frames, ${values} values`);
  await out.line(`codecs (frames): ${[...codecs].map(([c, n]) => `${c} ${n}`).join(', ') || 'none'}`);
  await out.line(`compression: ${raw} raw payload bytes stored in ${stored} (ratio ${stored > 0 ? (raw / stored).toFixed(2) : '-'})`);
  await out.line(`garbage: ${dead} bytes marked dead (${total > 0 ? ((dead / total) * 100).toFixed(1) : '0.0'}%)`);
  for (const n of notes) await out.line(n);
  const store = await openDictionaries(storage);
  const dicts = store.info();
  await out.line(`dictionaries: ${dicts.length === 0 ? 'none' : dicts.map((d) => `${d.id} (${d.bytes} bytes)`).join(', ')}${store.current ? `; newest ${store.current.id}` : ''}`);
  for (const d of store.damaged()) await out.line(`${d.file}: DAMAGED: ${d.reason}`);
  if (damaged > 0) await out.line(`${damaged} damaged segment(s): run \`valuelog verify\` for details`);
  return 0;
}

async function verify(dir: string, dictFlags: string[]): Promise<number> {
  const dicts = new Map<bigint, Uint8Array>();
  for (const d of dictFlags) {
    const [id, file] = d.split('=', 2) as [string, string | undefined];
    if (!file || !/^\d+$/.test(id)) throw new UsageError(`--dict expects ID=FILE, got ${d}`);
    dicts.set(BigInt(id), new Uint8Array(readFileSync(file)));
  }
  const storage = new NodeStorage(existingDir(dir, 'verify'));
  // The log's own dictionaries; --dict adds or overrides. A damaged one is reported once and its
  // frames are then checked without decoding their values.
  let store = await openDictionaries(storage);
  const lookup = (id: bigint) => dicts.get(id) ?? store.get(id);
  const segs = await segments(storage);
  const total = segs.reduce((a, s) => a + s.bytes, 0);
  const bar = progress('verify', total);
  let done = 0, values = 0, bad = 0, undecodable = 0;
  const problems: string[] = [];
  for (const d of store.damaged()) {
    if (d.id !== undefined && dicts.has(d.id)) continue;
    bad++;
    problems.push(`${d.file}: DAMAGED: ${d.reason}`);
  }
  const reloaded = new Set<number>();
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    let r: Reader;
    try {
      r = await Reader.open(storage, s.id);
    } catch (e) {
      if (e instanceof ValueLogError && e.code === 'NOT_FOUND') continue; // deleted meanwhile (compaction)
      throw e;
    }
    r.setDictLookup(lookup);
    let decoding = true;
    let segValues = 0;
    let retry = false;
    for (;;) {
      try {
        const e = r.next();
        if (e === undefined) break;
        segValues++;
      } catch (err) {
        if (!(err instanceof ValueLogError)) throw err;
        if (decoding && err.code === 'MISSING_DICT' && !reloaded.has(s.id)) {
          // The writer beside us may have stored the dictionary after we loaded the store: look again.
          reloaded.add(s.id);
          store = await DictionaryStore.open(storage);
          retry = true;
          break;
        }
        if (decoding && err.code === 'MISSING_DICT') {
          // CRC and structure are still checked for the rest of the segment; only values are not.
          undecodable++;
          problems.push(`${s.name}: offset ${r.offset}: ${err.message}: its values cannot be decoded (pass --dict <id>=<file> if you have the dictionary)`);
          decoding = false;
          r.disableValueDecode();
          continue;
        }
        if (incompleteTail(s, err)) {
          problems.push(`${s.name}: offset ${r.offset}: incomplete last record (being written, or a torn write that the next read-write open truncates): not counted as damage`);
          break;
        }
        bad++;
        problems.push(`${s.name}: offset ${r.offset}: ${err.code}: ${err.message}`);
        break;
      }
      if (((values + segValues) & 1023) === 0) bar.tick(done + r.offset);
    }
    r.close();
    if (retry) {
      i--;
      continue;
    }
    values += segValues;
    done += s.bytes;
    bar.tick(done);
  }
  bar.end();
  for (const p of problems) await out.line(p);
  const verdict = bad > 0 ? 'DAMAGED' : undecodable > 0 ? 'FAILED' : 'OK';
  await out.line(`${verdict}: ${segs.length} segment(s), ${values} values verified${bad ? `, ${bad} damaged segment(s) or dictionaries` : ''}${undecodable ? `, ${undecodable} segment(s) with values that cannot be decoded (dictionary missing)` : ''}`);
  return verdict === 'OK' ? 0 : 1;
}

async function dump(path: string, withValues: boolean): Promise<number> {
  const name = basename(path);
  const id = parseSegmentFileName(name);
  if (id === undefined) throw new UsageError(`${name} is not a segment file name (value-l<lane>-<seq>.log)`);
  const storage = new NodeStorage(existingDir(dirname(path), 'dump'));
  const seg = (await segments(storage)).find((s) => s.name === name);
  if (seg === undefined) throw new CliError(`dump: ${path}: no such segment file`);
  const r = await Reader.open(storage, id);
  r.setDictLookup((await openDictionaries(storage)).lookup);
  let n = 0;
  let code = 0;
  try {
    for (;;) {
      let e;
      try {
        e = r.next();
      } catch (err) {
        if (!(err instanceof ValueLogError)) throw err;
        if (incompleteTail(seg, err)) {
          process.stderr.write(`stopped at offset ${r.offset}: incomplete last record (being written, or a torn write)\n`);
        } else {
          process.stderr.write(`valuelog: dump: ${name}: offset ${r.offset}: ${err.code}: ${stripPrefix(err.message)}\n`);
          code = 1;
        }
        break;
      }
      if (e === undefined) break;
      const line: Record<string, unknown> = { rid: e.rid.toString(), ptr: e.ptr, size: e.value!.length };
      if (withValues) line.value = Buffer.from(e.value!).toString('base64');
      await out.line(JSON.stringify(line));
      n++;
    }
  } finally {
    r.close();
  }
  process.stderr.write(`${n} values\n`);
  return code;
}

async function stats(dir: string): Promise<number> {
  const storage = new NodeStorage(existingDir(dir, 'stats'));
  const garbage = new GarbageTracker();
  const list = [];
  for (const s of await segments(storage)) {
    await garbage.load(storage, s.id);
    const { lane, seq } = decodeFileId(s.id);
    const dead = Math.min(s.bytes, garbage.deadBytes(s.id));
    list.push({ segment: s.name, lane, seq, bytes: s.bytes, deadBytes: dead, garbageRatio: s.bytes > 0 ? dead / s.bytes : 0, deadValues: garbage.deadValues(s.id) });
  }
  const store = await openDictionaries(storage);
  const dictionaries = store.info().map((d) => ({ id: Number(d.id), file: d.file, bytes: d.bytes }));
  const damaged = store.damaged().map((d) => ({ file: d.file, reason: d.reason }));
  await out.line(JSON.stringify({ segments: list, totalBytes: list.reduce((a, s) => a + s.bytes, 0), deadBytes: list.reduce((a, s) => a + s.deadBytes, 0), dictionaries, damagedDictionaries: damaged }, null, 2));
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
  // --add writes the dictionary store: like a read-write open it needs the log's lock.
  const lock = add ? await storage.lock() : undefined;
  try {
    return await trainFrom(storage, add, id, size!, out, limit);
  } finally {
    await lock?.release();
  }
}

async function trainFrom(storage: NodeStorage, add: boolean, id: number | undefined, size: number, out: string | undefined, limit: number): Promise<number> {
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

/** `dict import`: a zstd dictionary file into the store under its own (header) id, under the log's lock. */
async function importDict(dir: string, file: string): Promise<number> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const id = bytes.length >= 8 && bytes[0] === 0x37 && bytes[1] === 0xa4 && bytes[2] === 0x30 && bytes[3] === 0xec ? zstdDictionaryId(bytes) : 0;
  if (id === 0) throw new CliError(`${file} is not a zstd dictionary with an id (magic 37 a4 30 ec and a non-zero dictionary id in its header)`);
  const storage = new NodeStorage(dir);
  const lock = await storage.lock();
  try {
    const store = await DictionaryStore.open(storage);
    const r = await store.importDictionary(bytes, id);
    console.log(r.created ? `imported ${file} as dictionary ${id} (${dictFileName(id)}, ${bytes.length} bytes)` : `the store already holds these bytes as dictionary ${id}: nothing changed`);
    return 0;
  } finally {
    await lock.release();
  }
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (cmd === '--version' || cmd === '-V') {
    process.stdout.write(`valuelog ${version()}\n`);
    return 0;
  }
  if (!Object.hasOwn(COMMAND_FLAGS, cmd)) throw new UsageError(cmd.startsWith('-') ? `unknown option ${cmd}` : `unknown command ${cmd}`);
  const { pos, flags } = parseArgs(cmd, rest);
  if (flags.has('help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  await init();
  switch (cmd) {
    case 'inspect': return inspect(pos[0]!);
    case 'verify': return verify(pos[0]!, flags.get('dict') ?? []);
    case 'dump': return dump(pos[0]!, flags.has('values'));
    case 'stats': return stats(pos[0]!);
    // compact opens the log read-write, which would create it: a missing directory is an error.
    case 'compact': return compact(existingDir(pos[0]!, 'compact'), flags);
    case 'train-dict': return trainDict(existingDir(pos[0]!, 'train-dict'), flags);
    case 'dict':
      if (pos[0] !== 'import') throw new UsageError(`dict: unknown subcommand ${JSON.stringify(pos[0])} (dict import <dir> <file>)`);
      return importDict(existingDir(pos[1]!, 'dict import'), pos[2]!);
    default: await runDemo({ keep: flags.has('keep'), ...(flags.has('dir') ? { dir: flags.get('dir')![0]! } : {}) }); return 0;
  }
}

/** A message without the library's own `valuelog:` prefix (the CLI adds one). */
function stripPrefix(message: string): string {
  return message.replace(/^(valuelog:\s*)+/, '');
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
      process.stderr.write(`valuelog: ${stripPrefix(err.message)}\n\n${USAGE}`);
      exitAfterOutput(2);
      return;
    }
    process.stderr.write(`valuelog: ${stripPrefix(err instanceof Error ? err.message : String(err))}\n`);
    exitAfterOutput(1);
  },
);
