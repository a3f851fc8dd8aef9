// Lists the public names that have no doc comment. The public names are what the package's entry
// points export (src/index.node.ts, src/index.ts, src/browser/client.ts, src/browser/valuelog.worker.ts)
// and, for classes, interfaces and enums among them, their public members. A name counts as
// documented when its declaration, or the declaration it implements or overrides, carries a /** */
// comment. Uses the TypeScript compiler API over the sources only (no type check, no network), so
// it takes about two seconds. `node scripts/check-docs.mjs` prints the missing names and exits 1 if any;
// test/docs.test.ts runs the same check in `npm test`.
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

/** The entry points whose exports are the public API. */
export const ENTRY_POINTS = ['src/index.node.ts', 'src/index.ts', 'src/browser/client.ts', 'src/browser/valuelog.worker.ts'];

/**
 * [{ name, where }] for every public name without a doc comment, sorted, for the `entries` (paths
 * relative to `root`). Only the ES lib is loaded (Symbol.iterator members need it); the DOM lib is
 * not: resolving exports and comments needs no DOM types, and leaving it out saves a second.
 */
export function undocumented(root, entries = ENTRY_POINTS) {
  const program = ts.createProgram(
    entries.map((f) => join(root, f)),
    { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true, lib: ['lib.es2022.d.ts'], types: [] },
  );
  const checker = program.getTypeChecker();
  const missing = new Map();
  const seen = new Set();
  const where = (decl) => {
    const sf = decl.getSourceFile();
    const { line } = sf.getLineAndCharacterOfPosition(decl.getStart());
    return `${relative(root, sf.fileName)}:${line + 1}`;
  };
  const documented = (sym) => sym.getDocumentationComment(checker).some((p) => p.text.trim() !== '') || hasOwnDoc(sym);
  const visit = (sym, name) => {
    if (sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym);
    const decls = sym.declarations ?? [];
    if (decls.length === 0) return;
    const key = `${name}@${where(decls[0])}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (!documented(sym)) missing.set(key, { name, where: where(decls[0]) });
    if (sym.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface | ts.SymbolFlags.Enum)) {
      // Inherited members count too (an exported interface may extend an internal one), enum
      // members and statics are the symbol's exports.
      const own = sym.flags & ts.SymbolFlags.Enum ? [] : checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(sym));
      const members = [...own, ...(sym.exports?.values() ?? [])];
      for (const m of members) {
        const d = m.declarations?.[0];
        if (!d || m.name === 'prototype' || m.name.startsWith('#')) continue;
        if (m.name.startsWith('__') && !m.name.startsWith('__@')) continue; // __@iterator@12 is [Symbol.iterator]
        if (d.getSourceFile().isDeclarationFile) continue;
        const mods = ts.getCombinedModifierFlags(d);
        if (mods & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
        if (ts.isConstructorDeclaration(d) || ts.isIndexSignatureDeclaration(d)) continue;
        // Members whose parameter properties are private are skipped by the modifier test above.
        const member = m.name.startsWith('__@') ? `[Symbol.${m.name.slice(3).replace(/@\d+$/, '')}]` : m.name;
        if (!documented(m)) missing.set(`${name}.${member}@${where(d)}`, { name: `${name}.${member}`, where: where(d) });
      }
    }
  };
  for (const entry of entries) {
    const sf = program.getSourceFile(join(root, entry));
    const modSym = sf && checker.getSymbolAtLocation(sf);
    if (!modSym) continue; // a script with no exports (the worker) has nothing public
    for (const exp of checker.getExportsOfModule(modSym)) visit(exp, exp.name);
  }
  return [...missing.values()].sort((a, b) => a.where.localeCompare(b.where, 'en', { numeric: true }));
}

// A declaration's own /** */ comment, also when it holds only tags (e.g. `/** @internal */`).
function hasOwnDoc(sym) {
  return (sym.declarations ?? []).some((d) => ts.getJSDocCommentsAndTags(d).length > 0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const list = undocumented(root);
  for (const { name, where } of list) console.log(`${where}  ${name}`);
  console.log(`${list.length} public name(s) without a doc comment`);
  process.exit(list.length === 0 ? 0 : 1);
}
