// The browser bundle (dist/valuelog.browser.js), loaded as built, not from the sources: it must not
// reference Node-only APIs, and its runtime-neutral API (codecs, format, MemoryStorage, ValueLog) must
// work. Runs in every runtime of the suite (Chromium fetches it from the test server).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readRepoFile } from './env.js';

const bundle = new URL('../../dist/valuelog.browser.js', import.meta.url);
type Api = typeof import('../src/index.js');

test('the browser bundle references no Node-only module or global', async () => {
  const text = new TextDecoder().decode(await readRepoFile(bundle));
  for (const banned of [/from ['"]node:/, /import\(['"]node:/, /\brequire\(/, /\bprocess\./, /\bBuffer\./, /__dirname/]) {
    assert.not.ok(banned.test(text), `bundle matches ${banned}`);
  }
});

test('the browser bundle works: init, golden frame, ValueLog on MemoryStorage', async () => {
  const v = (await import(bundle.href)) as Api;
  await v.init();
  assert.is(v.crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  const { body } = v.encodeFrame(0, undefined, [{ rid: 1, value: new TextEncoder().encode('hello') }]);
  const rec = v.encodeRecord(v.RECORD_FLAG_GROUPED, 0n, body);
  assert.is(v.decodeRecordHeader(rec).crc, 0xe2d1e788);
  const log = await v.ValueLog.open(new v.MemoryStorage(), { compression: 'lz4' });
  const ptrs = log.putMany(Array.from({ length: 300 }, (_, i) => new TextEncoder().encode(`value ${i}`)));
  await log.commit();
  assert.is(new TextDecoder().decode(log.get(ptrs[299]!)), 'value 299');
  await log.close();
  assert.not.ok('NodeStorage' in v, 'the browser build has no node:fs backend');
});

test.run();
