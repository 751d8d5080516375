/**
 * 7. Bundle: the JavaScript each UI page loads, gzipped, from the built extension (.output/chrome-mv3):
 * the HTML's module scripts and modulepreloads, then every chunk those import statically (followed
 * transitively). Dynamic imports are listed separately. Also checks where openpgp ended up.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { gzipSync } from 'node:zlib';
import { section, table, type SectionResult } from './report';
import { fmtKiB } from './stats';

export const SIDE_PANEL_TARGET_KIB = 150;

interface PageJs {
  page: string;
  files: Array<{ file: string; raw: number; gzip: number; openpgp: boolean }>;
  dynamic: string[];
  raw: number;
  gzip: number;
}

/** Strings only openpgp's own code contains (not e.g. a UI placeholder showing an armored block). */
const OPENPGP_MARKS = ['OpenPGP.js', 'does not conform to a valid OpenPGP format', 'Session key decryption failed'];

function resolveRef(from: string, ref: string): string {
  if (ref.startsWith('/')) return ref.slice(1);
  return posix.normalize(posix.join(posix.dirname(from), ref));
}

function staticImports(code: string): string[] {
  const out = new Set<string>();
  // import x from "./a.js"; import "./b.js"; export * from "./c.js"; import{a as b}from"./d.js"
  for (const m of code.matchAll(/(?:^|[;\s}])(?:import|export)\s*(?:[\w*{}\s,$]+?\s*from\s*)?["']([^"']+\.m?js)["']/g)) out.add(m[1] as string);
  return [...out];
}

function dynamicImports(code: string): string[] {
  return [...code.matchAll(/import\(\s*["']([^"']+\.m?js)["']\s*\)/g)].map((m) => m[1] as string);
}

export function pageJs(outDir: string, html: string): PageJs {
  const text = readFileSync(join(outDir, html), 'utf8');
  const entries = new Set<string>();
  for (const m of text.matchAll(/<script[^>]*\bsrc=["']([^"']+)["'][^>]*>/g)) entries.add(resolveRef(html, m[1] as string));
  for (const m of text.matchAll(/<link[^>]*rel=["']modulepreload["'][^>]*href=["']([^"']+)["'][^>]*>/g)) entries.add(resolveRef(html, m[1] as string));
  for (const m of text.matchAll(/<link[^>]*href=["']([^"']+)["'][^>]*rel=["']modulepreload["'][^>]*>/g)) entries.add(resolveRef(html, m[1] as string));
  const seen = new Set<string>();
  const dynamic = new Set<string>();
  const queue = [...entries];
  const files: PageJs['files'] = [];
  while (queue.length) {
    const file = queue.shift() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const path = join(outDir, file);
    if (!existsSync(path)) continue;
    const buf = readFileSync(path);
    const code = buf.toString('utf8');
    files.push({ file, raw: buf.length, gzip: gzipSync(buf, { level: 9 }).length, openpgp: OPENPGP_MARKS.some((mark) => code.includes(mark)) });
    for (const ref of staticImports(code)) queue.push(resolveRef(file, ref));
    for (const ref of dynamicImports(code)) dynamic.add(resolveRef(file, ref));
  }
  return {
    page: html,
    files,
    dynamic: [...dynamic].filter((d) => !seen.has(d)),
    raw: files.reduce((s, f) => s + f.raw, 0),
    gzip: files.reduce((s, f) => s + f.gzip, 0),
  };
}

export function bundleBench(outDir: string): SectionResult {
  const result = section('7', 'Bundle: JavaScript each UI page loads (gzip -9)');
  const pages = ['sidepanel.html', 'popup.html'].map((p) => pageJs(outDir, p));
  const background = join(outDir, 'background.js');
  const bg = existsSync(background) ? readFileSync(background) : null;
  const bgOpenpgp = bg ? OPENPGP_MARKS.some((m) => bg.toString('utf8').includes(m)) : false;
  for (const p of pages) {
    const withPgp = p.files.filter((f) => f.openpgp).map((f) => f.file);
    result.rows.push({
      figure: `${p.page.replace('.html', '')} JavaScript, gzipped${withPgp.length ? ' (contains openpgp!)' : ''}`,
      value: fmtKiB(p.gzip),
      floor: '–',
      ratio: '–',
      target: p.page === 'sidepanel.html' ? `≤ ${SIDE_PANEL_TARGET_KIB} KiB, no openpgp` : 'no openpgp',
      met: p.page === 'sidepanel.html' ? p.gzip <= SIDE_PANEL_TARGET_KIB * 1024 && !withPgp.length : !withPgp.length,
    });
  }
  result.rows.push({
    figure: 'background.js, gzipped (holds openpgp)',
    value: bg ? fmtKiB(gzipSync(bg, { level: 9 }).length) : '–',
    floor: '–',
    ratio: '–',
    target: 'openpgp here only',
    met: bg ? bgOpenpgp : null,
  });
  const rows: string[][] = [];
  for (const p of pages) {
    for (const f of p.files) rows.push([p.page, f.file, fmtKiB(f.raw), fmtKiB(f.gzip), f.openpgp ? 'yes' : 'no']);
    rows.push([p.page, '**total**', fmtKiB(p.raw), fmtKiB(p.gzip), p.files.some((f) => f.openpgp) ? '**yes**' : 'no']);
    if (p.dynamic.length) rows.push([p.page, `dynamic imports (not counted): ${p.dynamic.join(', ')}`, '', '', '']);
  }
  if (bg) rows.push(['background', 'background.js', fmtKiB(bg.length), fmtKiB(gzipSync(bg, { level: 9 }).length), bgOpenpgp ? 'yes' : 'no']);
  result.details.push(
    `From ${outDir.includes('.output') ? '`.output/chrome-mv3`' : 'the built extension'} (\`wxt build\`, production): each page's \`<script src>\` and modulepreloads, ` +
      `then every chunk imported statically, transitively; each file gzipped at level 9 and summed (CSS not counted). ` +
      `"openpgp" = the file contains strings only openpgp's code has (its version banner \`OpenPGP.js\`, its parse and decryption errors).`,
  );
  result.details.push(table(['page', 'file', 'raw', 'gzip', 'openpgp'], rows));
  return result;
}
