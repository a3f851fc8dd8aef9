// The valuelog/browser example: written exactly as an application imports the package. The log runs
// in a dedicated worker on OPFS; this page keeps the pointers (its "index") and reads values back by them.
import type { ValuePtr as Ptr } from 'valuelog';
import { BrowserValueLog } from 'valuelog/browser';

const enc = new TextEncoder();
const dec = new TextDecoder();
const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const buttons = ['put', 'write1000', 'readall'].map((id) => $<HTMLButtonElement>(id));
const setBusy = (busy: boolean): void => buttons.forEach((b) => (b.disabled = busy));
const num = (n: number): string => n.toLocaleString('en-US');
const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;
/** A pointer is an opaque handle for the application's index (fileId and length carry flag bits). */
const fmtPtr = (p: Ptr): string => `{ fileId: ${hex(p.fileId)}, offset: ${p.offset}, length: ${hex(p.length)} }`;

/** The application's index: which pointer holds which value (here: everything this tab wrote). */
const index: Array<{ ptr: Ptr; expected: string }> = [];
let log: BrowserValueLog;

function fail(e: unknown): void {
  const err = e as { code?: string; message?: string };
  $('error').textContent = `${err.code ?? 'error'}: ${err.message ?? String(e)}`;
}

function showRole(isOwner: boolean): void {
  const role = $('role');
  role.dataset.owner = String(isOwner);
  role.textContent = isOwner ? 'owner tab (runs the log worker)' : 'client tab (calls go to the owner tab)';
}

async function refreshStats(): Promise<void> {
  const s = await log.stats();
  $('stat-segments').textContent = String(s.segments.length);
  $('stat-bytes').textContent = num(s.totalBytes);
  $('stat-puts').textContent = num(s.puts);
  $('stat-commits').textContent = num(s.commits);
  $('stat-syncs').textContent = num(s.syncs);
  $('stat-held').textContent = num(index.length);
}

function addRecent(ptr: Ptr, value: string): void {
  const row = document.createElement('tr');
  const p = document.createElement('td');
  p.className = 'ptr';
  p.textContent = fmtPtr(ptr);
  const v = document.createElement('td');
  v.textContent = value;
  row.append(p, v);
  const body = $('recent');
  body.prepend(row);
  while (body.children.length > 5) body.lastElementChild!.remove();
}

async function run(task: () => Promise<void>): Promise<void> {
  setBusy(true);
  $('error').textContent = '';
  try {
    await task();
    await refreshStats();
  } catch (e) {
    fail(e);
  } finally {
    setBusy(false);
  }
}

$<HTMLFormElement>('put-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $<HTMLInputElement>('value').value;
  void run(async () => {
    const ptr = await log.put(enc.encode(text));
    await log.commit(); // durable from here on
    const back = dec.decode(await log.get(ptr));
    index.push({ ptr, expected: text });
    $('last-ptr').textContent = fmtPtr(ptr);
    $('last-read').textContent = back;
    addRecent(ptr, back);
  });
});

$('write1000').addEventListener('click', () => {
  void run(async () => {
    const t0 = performance.now();
    const docs = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ n: index.length + i, user: `user-${i % 37}`, tags: ['example', i % 2 ? 'odd' : 'even'] }));
    const ptrs = await log.putMany(docs.map((d) => enc.encode(d)));
    await log.commit();
    const back = await Promise.all(ptrs.map(async (p) => dec.decode(await log.get(p))));
    const same = back.filter((v, i) => v === docs[i]).length;
    ptrs.forEach((ptr, i) => index.push({ ptr, expected: docs[i]! }));
    addRecent(ptrs[ptrs.length - 1]!, back[back.length - 1]!);
    $('bulk-result').textContent = `wrote 1,000 values, committed, read ${num(same)} of 1,000 back intact`;
    $('bulk-time').textContent = `(${Math.round(performance.now() - t0)} ms)`;
  });
});

$('readall').addEventListener('click', () => {
  void run(async () => {
    const back = await Promise.all(index.map(async ({ ptr }) => dec.decode(await log.get(ptr))));
    const same = back.filter((v, i) => v === index[i]!.expected).length;
    $('bulk-result').textContent = `read ${num(same)} of ${num(index.length)} values back intact`;
    $('bulk-time').textContent = '';
  });
});

try {
  log = await BrowserValueLog.open('example', { compression: 'lz4' });
  log.onownerchange = showRole;
  showRole(log.isOwner);
  await refreshStats();
  $('status').textContent = 'ready';
  setBusy(false);
} catch (e) {
  $('status').textContent = 'failed';
  fail(e);
}
