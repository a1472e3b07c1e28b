/**
 * The dependency rules of docs/ARCHITECTURE.md, checked on the import statements of the source tree.
 */
import { describe, expect, it } from '@jest/globals';
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function sources(folder: string): Promise<string[]> {
  const entries = await readdir(join(root, folder), { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts')).map((entry) => join(entry.parentPath, entry.name));
}

async function importsOf(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  // Static imports and re-exports, and dynamic or type-level import('...') of a literal path.
  const fromClauses = [...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)].map((match) => match[1] ?? '');
  const calls = [...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((match) => match[1] ?? '');
  return [...fromClauses, ...calls];
}

describe('layering', () => {
  it('nothing in src/ imports the simulator', async () => {
    for (const file of await sources('src')) {
      for (const specifier of await importsOf(file)) expect(`${relative(root, file)} -> ${specifier}`).not.toMatch(/-> .*\/sim\//);
    }
  });

  it('the domain core does no I/O: no node: modules, no SDKs', async () => {
    const allowed = new Set(['zod', 'big.js']);
    for (const file of await sources('src/core')) {
      for (const specifier of await importsOf(file)) {
        if (specifier.startsWith('.')) continue;
        expect(`${relative(root, file)} -> ${specifier}`).toMatch(new RegExp(`-> (${[...allowed].join('|').replace('.', '\\.')})$`));
      }
    }
  });

  it('the engine depends on the core and the ports only: no adapters, no SDKs', async () => {
    for (const file of await sources('src/engine')) {
      for (const specifier of await importsOf(file)) {
        expect(`${relative(root, file)} -> ${specifier}`).toMatch(/-> \.\.?\/(?:\.\.\/(?:core|ports)\/)?[\w./-]+$/);
        expect(specifier).not.toMatch(/adapters|bybit-api|@aws-sdk/);
      }
    }
  });
});
