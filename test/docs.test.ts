// @runtimes node: a static check of the sources on disk with the TypeScript compiler API; one runtime is enough.
// The repository explains itself: every public name has a doc comment (scripts/check-docs.mjs, the
// same check `npm run docs` relies on), each module imports only from the layers below it
// (docs/DESIGN.md, "Import rules"), and every place in the sources that cites a section of docs/
// names a section that exists.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

type Missing = { name: string; where: string };
type CheckDocs = { undocumented(root: string, entries?: string[]): Missing[]; ENTRY_POINTS: string[] };
const checkDocs = (): Promise<CheckDocs> => import(pathToFileURL(join(root, 'scripts', 'check-docs.mjs')).href) as Promise<CheckDocs>;

test('every exported name of the entry points, and every public member, has a doc comment', async () => {
  const { undocumented } = await checkDocs();
  const missing = undocumented(root);
  assert.equal(missing.map((m) => `${m.where} ${m.name}`), [], 'add a /** */ comment to each (node scripts/check-docs.mjs lists them)');
});

test('the doc-comment check finds what is missing: names, members, re-exports; inherited and private ones pass', async () => {
  const { undocumented } = await checkDocs();
  const dir = mkdtempSync(join(tmpdir(), 'valuelog-docs-'));
  try {
    writeFileSync(
      join(dir, 'lib.ts'),
      [
        '/** Documented. */',
        'export interface Shape {',
        '  /** Documented. */',
        '  area(): number;',
        '  perimeter(): number;',
        '}',
        'export function bare(): void {}',
        '/** Documented. */ export class Square implements Shape {',
        '  area(): number { return 1; }', // inherits Shape.area's comment
        '  perimeter(): number { return 4; }', // Shape.perimeter has none: reported on Shape only
        '  side = 1;',
        '  private hidden = 2;',
        '  /** Documented. */ get size(): number { return this.hidden; }',
        '}',
        '/** Documented. */',
        'export enum Mode {',
        '  /** Documented. */',
        '  A = 0,',
        '  B = 1,',
        '}',
        '/** Documented. */ export const ok = 1;',
        'export const notOk = 2;',
        '/** @internal */ export const tagged = 3;',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'index.ts'), "export * from './lib.js';\nexport { bare as alias } from './lib.js';\n");
    const names = undocumented(dir, ['index.ts']).map((m) => m.name).sort();
    assert.equal(names, ['Mode.B', 'Shape.perimeter', 'Square.perimeter', 'Square.side', 'alias', 'bare', 'notOk'].sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Import rules: the layers of docs/DESIGN.md. Each source file belongs to one layer and may import
// (as a value; `import type` is free) only from the layers listed for it. `node:*` only where named.

const LAYERS: Array<{ layer: string; files: RegExp; may: string[]; node?: boolean }> = [
  { layer: 'base', files: /^src\/(errors|limits|alloc)\.ts$/, may: [] },
  { layer: 'codec', files: /^src\/codec\//, may: ['base', 'codec'] },
  { layer: 'format', files: /^src\/format\//, may: ['base', 'codec', 'format'] },
  { layer: 'results', files: /^src\/remap\.ts$/, may: ['base', 'format', 'results'] },
  { layer: 'storage', files: /^src\/storage\//, may: ['base', 'storage'], node: true },
  {
    layer: 'log',
    files: /^src\/(clock|policy|frame-preparer|writer|reader|manager|recovery|garbage|compaction|dictionaries)\.ts$/,
    may: ['base', 'codec', 'format', 'results', 'storage', 'log'],
  },
  { layer: 'facade', files: /^src\/(valuelog|options|log-options|log-stats|lanes|compression-mode|compactor|opening|macrotask|foreign-dictionaries)\.ts$/, may: ['base', 'codec', 'format', 'results', 'storage', 'log', 'facade'] },
  { layer: 'entry', files: /^src\/index(\.node)?\.ts$/, may: ['base', 'codec', 'format', 'results', 'storage', 'log', 'facade', 'entry'] },
  { layer: 'browser-page', files: /^src\/browser\/(client|protocol)\.ts$/, may: ['base', 'format', 'results', 'browser-page'] },
  { layer: 'browser-worker', files: /^src\/browser\/(host|valuelog\.worker)\.ts$/, may: ['base', 'codec', 'format', 'results', 'storage', 'facade', 'browser-page', 'browser-worker'] },
  { layer: 'cli', files: /^src\/cli\//, may: ['base', 'codec', 'format', 'results', 'storage', 'log', 'facade', 'entry', 'cli'], node: true },
];
/** Only these storage files may use node:* (the browser build fails on any other). */
const NODE_STORAGE = /^src\/storage\/node(-lock)?\.ts$/;

function layerOf(file: string): string {
  const l = LAYERS.find((x) => x.files.test(file));
  if (l === undefined) throw new Error(`${file} belongs to no layer: add it to LAYERS here and to docs/DESIGN.md`);
  return l.layer;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(join(root, rel)).isDirectory()) out.push(...sourceFiles(rel));
    else if (name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** The modules a file imports or re-exports as values (type-only imports left out). */
function valueImports(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(join(root, file), 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      const c = n.importClause;
      const typeOnly = c !== undefined && (c.isTypeOnly || (c.name === undefined && c.namedBindings !== undefined && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) out.push(n.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier !== undefined && ts.isStringLiteral(n.moduleSpecifier)) {
      const typeOnly = n.isTypeOnly || (n.exportClause !== undefined && ts.isNamedExports(n.exportClause) && n.exportClause.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) out.push(n.moduleSpecifier.text);
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] !== undefined && ts.isStringLiteral(n.arguments[0])) {
      out.push(n.arguments[0].text);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

test('each module imports only from the layers below it (docs/DESIGN.md, "Import rules")', () => {
  const files = sourceFiles('src').filter((f) => f !== 'src/codec/wasm-binary.ts');
  assert.ok(files.length > 30, `found ${files.length} source files`);
  const broken: string[] = [];
  for (const file of files) {
    const layer = LAYERS.find((x) => x.layer === layerOf(file))!;
    for (const spec of valueImports(file)) {
      if (spec.startsWith('node:')) {
        if (!(layer.node === true && (layer.layer !== 'storage' || NODE_STORAGE.test(file)))) broken.push(`${file} imports ${spec}`);
        continue;
      }
      if (!spec.startsWith('.')) {
        broken.push(`${file} imports the package ${spec} (the library has no runtime dependencies)`);
        continue;
      }
      const target = relative(root, join(root, dirname(file), spec.replace(/\.js$/, '.ts'))).split('\\').join('/');
      if (target === 'src/codec/wasm-binary.ts') continue; // generated: the module's bytes
      const to = layerOf(target);
      if (!layer.may.includes(to)) broken.push(`${file} (${layer.layer}) imports ${target} (${to})`);
    }
  }
  assert.equal(broken, []);
});

test('the import rule check sees value imports, re-exports and dynamic imports, not type-only ones', () => {
  // storage knows nothing of frames: a storage file that imported format/ would be reported.
  const imports = valueImports('src/storage/node.ts');
  assert.ok(imports.includes('node:fs') && imports.includes('./types.js'), imports.join(' '));
  const page = valueImports('src/browser/client.ts');
  assert.ok(!page.includes('../valuelog.js'), 'client.ts imports only types of the facade');
  assert.ok(page.includes('../errors.js'));
  assert.ok(valueImports('src/index.node.ts').includes('./storage/node.js'), 're-exports count');
});

// ---------------------------------------------------------------------------------------------
// References into docs/

test('README links both docs, and every docs/X.md "Section" cited in the sources exists', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  assert.ok(readme.includes('(docs/FORMAT.md)') && readme.includes('(docs/DESIGN.md)'), 'README links docs/FORMAT.md and docs/DESIGN.md');
  const headings = new Map<string, Set<string>>();
  for (const doc of ['FORMAT.md', 'DESIGN.md']) {
    const text = readFileSync(join(root, 'docs', doc), 'utf8');
    headings.set(doc, new Set([...text.matchAll(/^#{2,4} (.+)$/gm)].map((m) => m[1]!.trim())));
  }
  const cited = /docs\/(FORMAT|DESIGN)\.md,? "([^"]+)"/g;
  const bad: string[] = [];
  let count = 0;
  for (const file of [...sourceFiles('src'), ...sourceFiles('test')]) {
    for (const m of readFileSync(join(root, file), 'utf8').matchAll(cited)) {
      count++;
      if (!headings.get(`${m[1]}.md`)!.has(m[2]!)) bad.push(`${file} cites docs/${m[1]}.md "${m[2]}", which has no such heading`);
    }
  }
  assert.ok(count >= 10, `${count} citations found`);
  assert.equal(bad, []);
});

test.run();
