// FramePreparer and the compression policy (docs/DESIGN.md, "Compression policy"): the Go package's
// acceptance scenarios of this layer, its seven keep-rule vectors, grouping, autotune options and
// workloads, clocks and simulated I/O.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AutotuneMode,
  autotuneWorkloads,
  BlockCodec,
  chooseBlockGroupK,
  decodeFrame,
  decodeFrameValues,
  encodeCostModelFunc,
  FramePreparer,
  generateAutotuneValues,
  init,
  lookupAutotuneWorkload,
  MAX_FRAME_K,
  normalizeAutotuneOptions,
  normalizeBlockTargetCompressedBytes,
  shouldKeepCompressed,
  trainDictionary,
  VirtualClock,
  VirtualSink,
  type Clock,
} from '../src/index.js';
import { dictSkipFrames, dictSkipFramesAggressive } from '../src/policy.js';
import { expectCode, jsonDocs, noise, utf8 } from './helpers.js';

await init();

const samples = jsonDocs(800, 1024, 41);
const dict = trainDictionary(samples.slice(0, 600), { size: 16384, dictId: 77 });
const lookup = (id: bigint) => (id === 77n || id === 1n ? dict : undefined);
const recs = (values: Uint8Array[], firstRid = 1) => values.map((value, i) => ({ rid: BigInt(firstRid + i), value }));

test('shouldKeepCompressed: the seven vectors of the Go package', () => {
  assert.is(shouldKeepCompressed(100, 100, 1, 10, 0.1), false);
  assert.is(shouldKeepCompressed(1000, 900, 1000, 10, 0.1), false);
  assert.is(shouldKeepCompressed(1000, 800, 1000, 10, 0.1), true);
  assert.is(shouldKeepCompressed(1000, 900, 950, 10, 0.02), true);
  assert.is(shouldKeepCompressed(1000, 900, 950, 10, 0.1), false);
  assert.is(shouldKeepCompressed(1000, 900, 0, 10, 0.1), true);
  assert.is(shouldKeepCompressed(1000, 900, 1000, 0, 0.1), true);
  // Edge rules.
  assert.is(shouldKeepCompressed(0, 0, 0, 0, 0), false);
  assert.is(shouldKeepCompressed(10, -1, 0, 0, 0), false);
  assert.is(shouldKeepCompressed(1000, 900, 1000, 10, -5), false); // margin clamps to 0: 1000 vs 1000, strict
});

test('backoff lengths: 8, 16, 32, 64, 128, 256..., and 512 when the attempt cost 4x its saving', () => {
  assert.equal([1, 2, 3, 4, 5, 6, 7, 200].map(dictSkipFrames), [8, 16, 32, 64, 128, 256, 256, 256]);
  assert.is(dictSkipFramesAggressive(1, 1000, 990, 400, 10, 0), 512); // saves 100, costs 400
  assert.is(dictSkipFramesAggressive(1, 1000, 990, 399, 10, 0), 8);
  assert.is(dictSkipFramesAggressive(1, 1000, 1000, 400, 10, 0), 8); // no saving at all
  assert.is(dictSkipFramesAggressive(2, 1000, 990, 0, 10, 0), 16);
});

test('chooseBlockGroupK and normalizeBlockTargetCompressedBytes', () => {
  const k = chooseBlockGroupK(128, 128 * 1024, 4096, 0.5);
  assert.ok(k > 1 && k <= MAX_FRAME_K);
  assert.is(k, 8);
  assert.is(chooseBlockGroupK(64, 65536, 4096, 1.01), 1);
  assert.is(chooseBlockGroupK(64, 65536, 4096, 0.98), 1);
  assert.is(chooseBlockGroupK(1, 65536, 4096, 0.5), 1);
  assert.is(chooseBlockGroupK(64, 0, 4096, 0.5), 1);
  assert.is(chooseBlockGroupK(1000, 1000, 1 << 20, 0.1), MAX_FRAME_K);
  assert.is(chooseBlockGroupK(10, 100, 1 << 20, 0.1), 10);
  for (const bad of [0, -1, NaN, Infinity, -Infinity]) assert.is(chooseBlockGroupK(128, 128 * 1024, 4096, bad), 1);
  assert.is(normalizeBlockTargetCompressedBytes(0), 4096);
  assert.is(normalizeBlockTargetCompressedBytes(-3), 4096);
  assert.is(normalizeBlockTargetCompressedBytes(1), 256);
  assert.is(normalizeBlockTargetCompressedBytes(1 << 30), 1 << 20);
  assert.is(normalizeBlockTargetCompressedBytes(5000), 5000);
});

test('FramePreparer round trip with a dictionary (dictId 77)', () => {
  const p = new FramePreparer();
  const records = recs(samples.slice(600, 616));
  const { body, stats } = p.prepareFrame(77, dict, records);
  assert.is(stats.records, 16);
  assert.ok(stats.rawPayloadBytes > 0);
  assert.ok(stats.attempted);
  assert.ok(stats.kept);
  assert.ok(stats.storedPayloadBytes < stats.rawPayloadBytes);
  assert.is(stats.encodeNs, 0, 'stride 0 never measures');
  const { frame, values } = decodeFrameValues(body, lookup);
  assert.is(frame.header.dictId, 77n);
  assert.is(frame.header.flags, 1);
  values.forEach((v, i) => assert.equal(v, records[i]!.value));
});

test('K = 128 with a dictionary keeps compression and reads back', () => {
  const p = new FramePreparer();
  const records = recs(samples.slice(0, 128));
  const { body, stats } = p.prepareFrame(1, dict, records);
  assert.ok(stats.kept);
  const { values } = decodeFrameValues(body, lookup);
  assert.is(values.length, 128);
  values.forEach((v, i) => assert.equal(v, records[i]!.value));
});

test('prepareFrame reuses the destination buffer; no dictionary means no attempt', () => {
  const p = new FramePreparer();
  const records = recs([utf8('one'), utf8('two'), utf8('three')]);
  const first = p.prepareFrame(0, undefined, records);
  assert.not.ok(first.stats.attempted);
  const second = p.prepareFrame(0, undefined, records, first.body.subarray(0, 0));
  assert.ok(second.body.buffer === first.body.buffer, 'same backing buffer');
  assert.equal(second.body, first.body);
  const small = new Uint8Array(4);
  const third = p.prepareFrame(0, undefined, records, small);
  assert.ok(third.body.buffer !== small.buffer, 'a too-small destination is not used');
});

test('keep policy (io 0.01, enc 10, margin 0) skips compression but keeps the dictionary id', () => {
  const p = new FramePreparer();
  p.setKeepPolicy(0.01, 10, 0);
  const { body, stats } = p.prepareFrame(9, dict, recs(samples.slice(0, 4)));
  assert.not.ok(stats.attempted);
  assert.not.ok(stats.kept);
  const f = decodeFrame(body);
  assert.is(f.header.flags, 0);
  assert.is(f.header.dictId, 9n);
});

test('block codecs: Snappy and LZ4 round trips keep compression and record the codec id', () => {
  const value = utf8('the quick brown fox jumps!\n'.repeat(128));
  for (const codec of [BlockCodec.Snappy, BlockCodec.LZ4]) {
    const p = new FramePreparer();
    p.setBlockCompression(codec, true);
    const records = recs(Array.from({ length: 16 }, (_, i) => { const v = value.slice(); v[0] = 65 + i; return v; }));
    const { body, stats } = p.prepareFrame(0, undefined, records);
    assert.ok(stats.attempted && stats.kept, `codec ${codec}`);
    const { frame, values } = decodeFrameValues(body);
    assert.is(frame.header.reserved, codec);
    assert.is(frame.header.flags, 1);
    assert.is(frame.header.dictId, 0n);
    values.forEach((v, i) => assert.equal(v, records[i]!.value));
  }
  // None (and anything unknown) selects Snappy, as in Go.
  const p = new FramePreparer();
  p.setBlockCompression(BlockCodec.None, true);
  assert.is(decodeFrame(p.prepareFrame(0, undefined, recs([value])).body).header.reserved, BlockCodec.Snappy);
});

test('block compression backs off after an incompressible batch', () => {
  for (const codec of [BlockCodec.Snappy, BlockCodec.LZ4]) {
    const p = new FramePreparer();
    p.setBlockCompression(codec, true);
    const batch = (seed: number) => recs(Array.from({ length: 8 }, (_, i) => noise(4096, seed * 100 + i + 1)));
    const first = p.prepareFrame(0, undefined, batch(1));
    assert.ok(first.stats.attempted);
    assert.not.ok(first.stats.kept);
    assert.is(decodeFrame(first.body).header.flags, 0);
    assert.is(p.compressionHints().skipRemain, 8);
    const second = p.prepareFrame(0, undefined, batch(2));
    assert.not.ok(second.stats.attempted);
    assert.is(p.compressionHints().skipRemain, 7);
    p.resetCompressionHints();
    assert.ok(p.prepareFrame(0, undefined, batch(3)).stats.attempted);
  }
});

test('dictionary backoff resets when the dictionary id changes', () => {
  const p = new FramePreparer();
  const junk = recs([noise(3000, 9)]);
  assert.ok(p.prepareFrame(77, dict, junk).stats.attempted);
  assert.not.ok(p.prepareFrame(77, dict, junk).stats.attempted);
  assert.ok(p.prepareFrame(1, dict, junk).stats.attempted, 'another dictionary starts fresh');
});

test('virtual time: a step clock with stride 1 measures encode time and keeps a dictionary frame', () => {
  let t = 0n;
  const stepClock: Clock = { now: () => (t += 1000n) };
  const p = new FramePreparer();
  p.setClock(stepClock);
  p.setEncodeSampleStride(1);
  const { stats } = p.prepareFrame(77, dict, recs(samples.slice(0, 8)));
  assert.ok(stats.attempted && stats.kept);
  assert.ok(stats.encodeNs > 0);
  assert.is(stats.encodeNs, 1000);
});

test('sample stride n measures every n-th attempt; a cost model replaces and advances time', () => {
  const clock = new VirtualClock(0n);
  const p = new FramePreparer();
  p.setClock(clock);
  p.setEncodeSampleStride(3);
  p.setEncodeCostModel(encodeCostModelFunc((raw, records) => raw / 10 + records));
  const seen: number[] = [];
  for (let i = 0; i < 6; i++) seen.push(p.prepareFrame(77, dict, recs(samples.slice(i * 4, i * 4 + 4))).stats.encodeNs);
  const raw = (i: number) => samples.slice(i * 4, i * 4 + 4).reduce((a, v) => a + v.length, 0);
  assert.equal(seen, [0, 0, raw(2) / 10 + 4, 0, 0, raw(5) / 10 + 4]);
  assert.is(clock.now(), BigInt(Math.trunc(raw(2) / 10 + 4)) + BigInt(Math.trunc(raw(5) / 10 + 4)));
  // With a real cost the keep rule can reject: 1 ns/byte of I/O cannot pay for 10^9 ns of encoding.
  p.setEncodeSampleStride(1);
  p.setKeepPolicy(1, 0, 0.1);
  p.setEncodeCostModel(encodeCostModelFunc(() => 1e9));
  const { stats } = p.prepareFrame(77, dict, recs(samples.slice(40, 44)));
  assert.ok(stats.attempted);
  assert.not.ok(stats.kept);
  assert.is(p.compressionHints().skipRemain, 512, 'aggressive backoff');
});

test('FramePreparer argument errors', () => {
  const p = new FramePreparer();
  expectCode(() => p.prepareFrame(0, undefined, []), 'CORRUPT');
  expectCode(() => p.prepareFrame(0, undefined, recs(Array.from({ length: 129 }, () => utf8('x')))), 'RECORD_TOO_LARGE');
  expectCode(() => p.prepareFrame(5, undefined, recs([utf8('x')])), 'MISSING_DICT');
  const missingRid = expectCode(() => p.prepareFrame(0, undefined, [{ rid: 0, value: utf8('x') }]), 'INVALID_ARGUMENT');
  assert.match(missingRid.message, 'missing rid');
  expectCode(() => p.setEncodeSampleStride(-1), 'INVALID_ARGUMENT');
  expectCode(() => p.setKeepPolicy(NaN, 0, 0), 'INVALID_ARGUMENT');
});

test('setDictFrameEncoderOptions: levels and entropy produce decodable frames; unknown levels mean Fastest', () => {
  const records = recs(samples.slice(100, 132));
  const sizes: number[] = [];
  for (const [level, entropy] of [[1, false], [3, true], [11, true], [0, false], [99, true]] as const) {
    const p = new FramePreparer();
    p.setDictFrameEncoderOptions(level, entropy);
    const { body, stats } = p.prepareFrame(77, dict, records);
    assert.ok(stats.kept);
    sizes.push(stats.storedPayloadBytes);
    decodeFrameValues(body, lookup).values.forEach((v, i) => assert.equal(v, records[i]!.value));
  }
  assert.ok(sizes[2]! <= sizes[0]!, `level 11 with entropy (${sizes[2]}) is no larger than level 1 without (${sizes[0]})`);
  assert.is(sizes[3], sizes[0], 'level 0 normalises to Fastest');
});

test('autotune options: Off stays Off, Unset follows the value log, defaults fill in', () => {
  const off = normalizeAutotuneOptions({ mode: AutotuneMode.Off }, true);
  assert.is(off.mode, AutotuneMode.Off);
  assert.equal(off.candidateK, []);
  assert.is(normalizeAutotuneOptions({}, false).mode, AutotuneMode.Off);
  const med = normalizeAutotuneOptions(undefined, true);
  assert.is(med.mode, AutotuneMode.Medium);
  assert.equal(med.candidateK, [1, 2, 4, 8, 16, 32]);
  assert.equal(med.candidateHistoryBytes, [64, 96, 128].map((k) => k * 1024));
  assert.equal(med.candidateDictBytes, [40, 64, 96].map((k) => k * 1024));
  assert.is(med.minGainToSwitch, 0.05);
  assert.is(med.minDwellFrames, 65536);
  assert.is(med.sampleStride, 4);
  assert.is(med.maxSampleBytes, 8 << 20);
  assert.is(med.trainCpuFraction, 0.02);
  assert.is(med.probeBytes, 16 << 20);
  assert.is(med.pauseBytes, 64 << 20);
  assert.is(med.disableBelowValueBytes, 0);
  const agg = normalizeAutotuneOptions({ mode: AutotuneMode.Aggressive, sampleStride: 9 }, false);
  assert.is(agg.maxSampleBytes, 32 << 20);
  assert.is(agg.sampleStride, 9);
  assert.equal(agg.candidateHistoryBytes, [64, 96, 128, 192, 256, 512].map((k) => k * 1024));
  assert.equal(agg.candidateDictBytes, [40, 64, 96, 128, 192, 256].map((k) => k * 1024));
});

test('autotune workloads: names, shapes, and determinism for a seed', () => {
  assert.equal(autotuneWorkloads().map((w) => w.name), ['highly_compressible_tail64', 'template_friendly_mid', 'medium_compressible_sparse', 'incompressible']);
  assert.is(lookupAutotuneWorkload('nope'), undefined);
  for (const w of autotuneWorkloads()) {
    const a = generateAutotuneValues(w, 1000, 5, 42);
    const b = generateAutotuneValues(w.name, 1000, 5, 42);
    const c = generateAutotuneValues(w, 1000, 5, 43);
    assert.equal(a, b, w.name);
    assert.is(a.length, 5);
    a.forEach((v) => assert.is(v.length, 1000));
    assert.not.equal(a, c, w.name);
  }
  const tail = generateAutotuneValues('highly_compressible_tail64', 200, 1, 1)[0]!;
  assert.is(new TextDecoder().decode(tail.subarray(0, 29)), '{"key":"value","active":true}');
  const tpl = generateAutotuneValues('template_friendly_mid', 100, 1, 1)[0]!;
  const s = new TextDecoder().decode(tpl);
  assert.ok(s.startsWith('templatedb:{"type":"account","data":') && s.endsWith(',"state":"active"}'));
  assert.match(s.slice(36, -18), /^[a-z]{46}$/);
  assert.is(new TextDecoder().decode(generateAutotuneValues('template_friendly_mid', 40, 1, 1)[0]!), 'templatedb:{"type":"account","data":,"st');
  const sparse = generateAutotuneValues('medium_compressible_sparse', 600, 1, 1)[0]!;
  assert.is(new TextDecoder().decode(sparse.subarray(16, 32)), 'abcd1234abcd1234');
  assert.equal(generateAutotuneValues('incompressible', 0, 5, 1), []);
  assert.equal(generateAutotuneValues('incompressible', 5, 0, 1), []);
  expectCode(() => generateAutotuneValues('nope', 5, 5, 1), 'INVALID_ARGUMENT');
});

test('VirtualClock and VirtualSink', () => {
  const clock = new VirtualClock(100n);
  clock.advance(0);
  assert.is(clock.now(), 100n);
  clock.advance(50);
  clock.advance(-20n);
  assert.is(clock.now(), 130n);
  const sink = new VirtualSink({ clock, nsPerByte: 2, syncPenaltyNs: 1000, flushPenaltyNs: 10 });
  assert.is(sink.write(new Uint8Array(10)), 10);
  assert.is(clock.now(), 150n);
  sink.sync();
  sink.flush();
  assert.is(clock.now(), 1160n);
  assert.is(sink.bytesWritten, 10);
  const free = new VirtualSink();
  assert.is(free.write(new Uint8Array(3)), 3);
  free.sync();
});

test.run();
