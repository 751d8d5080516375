/**
 * What a component's own `<style>` declares for a selector, outside any `@media`: for tests of layout
 * rules (flex, grid, ellipsis) that happy-dom does not compute.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'vue/compiler-sfc';

/** The last value each property gets in the top-level rules whose selector list contains `selector` exactly. */
export function styleOf(component: string, selector: string): Record<string, string> {
  const { descriptor } = parse(readFileSync(resolve(import.meta.dirname, '../../..', component), 'utf8'));
  const declarations: Record<string, string> = {};
  for (const style of descriptor.styles) {
    const css = withoutAtRules(style.content.replace(/\/\*[\s\S]*?\*\//g, ''));
    for (const [, selectors = '', body = ''] of css.matchAll(/([^{}]+)\{([^{}]*)\}/g)) {
      if (!selectors.split(',').some((s) => s.trim().replace(/\s+/g, ' ') === selector)) continue;
      for (const line of body.split(';')) {
        const colon = line.indexOf(':');
        if (colon > 0) declarations[line.slice(0, colon).trim()] = line.slice(colon + 1).trim().replace(/\s+/g, ' ');
      }
    }
  }
  return declarations;
}

/** Drops every `@…{ … }` block (with what is nested in it). */
function withoutAtRules(css: string): string {
  let out = '';
  let i = 0;
  while (i < css.length) {
    const at = css.indexOf('@', i);
    if (at < 0) return out + css.slice(i);
    out += css.slice(i, at);
    let depth = 0;
    let j = css.indexOf('{', at);
    if (j < 0) return out;
    for (; j < css.length; j++) {
      if (css[j] === '{') depth++;
      else if (css[j] === '}' && --depth === 0) break;
    }
    i = j + 1;
  }
  return out;
}
