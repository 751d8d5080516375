#!/usr/bin/env node
// Fails (exit 1) when the import graph of the project's own source has a cycle, and prints each cycle;
// otherwise prints one summary line. Part of `npm run lint`.
//
// Nodes: every .ts/.mts/.js/.mjs/.vue file under the source folders below (tests and declaration files excluded).
// Edges: `import … from`, side-effect `import '…'`, `export … from` and `import('…')` with a literal specifier,
// in .ts files and in the <script> blocks of .vue files, that resolve to another node: `@/x` (and WXT's other root
// aliases ~/x, @@/x, ~~/x) from the root, `./x` and `../x` from the importing file; packages are not followed.
// Type-only imports (`import type`, `export type … from`, or imports whose every name is `type`) ARE edges:
// they are erased at run time, but a type cycle still ties the layers together. `--runtime-only` leaves them out.
//
// Usage: node scripts/check-cycles.mjs [--root <dir>] [--runtime-only]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

export const SOURCE_FOLDERS = ['services', 'shared', 'party', 'utils', 'stores', 'components', 'composables', 'entrypoints'];
const EXTENSIONS = ['.ts', '.mts', '.js', '.mjs', '.vue'];
const ALIAS = /^(?:@|~|@@|~~)\//;

function parseArgs(argv) {
  const options = { root: resolve(import.meta.dirname, '..'), runtimeOnly: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root') {
      const value = argv[++i];
      if (!value) throw new Error('--root needs a directory');
      options.root = resolve(value);
    } else if (argv[i] === '--runtime-only') options.runtimeOnly = true;
    else throw new Error(`unknown argument ${argv[i]} (use --root <dir>, --runtime-only)`);
  }
  return options;
}

function listSources(root) {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (EXTENSIONS.some((e) => entry.name.endsWith(e)) && !entry.name.endsWith('.d.ts')) files.push(path);
    }
  };
  for (const folder of SOURCE_FOLDERS) if (existsSync(join(root, folder))) walk(join(root, folder));
  return files.sort();
}

/** The script code of a file: the whole file, or the <script> blocks of a .vue file (other blocks blanked). */
function scriptOf(path) {
  const text = readFileSync(path, 'utf8');
  if (!path.endsWith('.vue')) return text;
  return [...text.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]).join('\n');
}

/** Every module specifier the file imports, with whether the import is type-only. */
function importsOf(path) {
  const source = ts.createSourceFile(path, scriptOf(path), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found = [];
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        !!clause &&
        (clause.isTypeOnly ||
          (!clause.name &&
            !!clause.namedBindings &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      found.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly =
        node.isTypeOnly ||
        (!!node.exportClause && ts.isNamedExports(node.exportClause) && node.exportClause.elements.length > 0 && node.exportClause.elements.every((e) => e.isTypeOnly));
      found.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) found.push({ specifier: arg.text, typeOnly: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push({ specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The node file a specifier names, or null for a package or a file outside the graph. */
function resolveSpecifier(root, from, specifier, nodes) {
  let base;
  if (ALIAS.test(specifier)) base = join(root, specifier.replace(ALIAS, ''));
  else if (specifier.startsWith('./') || specifier.startsWith('../')) base = resolve(dirname(from), specifier);
  else return null;
  const candidates = [base, ...EXTENSIONS.map((e) => base + e), ...EXTENSIONS.map((e) => join(base, 'index' + e))];
  // `./x.js` may name x.ts (TypeScript's ESM convention).
  if (/\.m?js$/.test(base)) candidates.push(base.replace(/\.(m?)js$/, '.$1ts'));
  return candidates.find((c) => nodes.has(c)) ?? null;
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
function cyclicComponents(graph) {
  let index = 0;
  const indices = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const components = [];
  const strong = (v) => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v).keys()) {
      if (!indices.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), indices.get(w)));
    }
    if (low.get(v) === indices.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v).has(v)) components.push(component);
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) strong(v);
  return components;
}

/** One concrete cycle inside a strongly connected component: a shortest path back to its first file. */
function cycleIn(graph, component) {
  const members = new Set(component);
  const start = [...component].sort()[0];
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of graph.get(v).keys()) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let at = v; at !== start; at = previous.get(at)) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

export function checkCycles({ root, runtimeOnly = false }) {
  const files = listSources(root);
  const nodes = new Set(files);
  /** file -> (imported file -> whether every import of it is type-only) */
  const graph = new Map(files.map((f) => [f, new Map()]));
  for (const file of files) {
    for (const { specifier, typeOnly } of importsOf(file)) {
      if (runtimeOnly && typeOnly) continue;
      const target = resolveSpecifier(root, file, specifier, nodes);
      if (!target) continue;
      const edges = graph.get(file);
      edges.set(target, (edges.get(target) ?? true) && typeOnly);
    }
  }
  const edges = [...graph.values()].reduce((n, m) => n + m.size, 0);
  const typeEdges = [...graph.values()].reduce((n, m) => n + [...m.values()].filter(Boolean).length, 0);
  const cycles = cyclicComponents(graph).map((c) => cycleIn(graph, c));
  return { files: files.length, edges, typeEdges, cycles, graph };
}

function main() {
  const options = parseArgs(process.argv.slice(2));
  const { files, edges, typeEdges, cycles, graph } = checkCycles(options);
  const name = (f) => relative(options.root, f).split(sep).join('/');
  const counted = options.runtimeOnly ? 'type-only imports left out' : `${typeEdges} type-only`;
  if (cycles.length === 0) {
    console.log(`check-cycles: ${files} files, ${edges} import edges (${counted}), no cycle`);
    return;
  }
  console.error(`check-cycles: ${cycles.length} import cycle${cycles.length === 1 ? '' : 's'} among ${files} files (${counted}):`);
  for (const cycle of cycles) {
    const steps = cycle.map((f, i) => (i === 0 ? name(f) : `${graph.get(cycle[i - 1]).get(f) ? '-(type)->' : '->'} ${name(f)}`));
    console.error(`  ${steps.join(' ')}`);
  }
  process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  try {
    main();
  } catch (error) {
    console.error(`check-cycles: ${error instanceof Error ? error.message : error}`);
    process.exitCode = 2;
  }
}
