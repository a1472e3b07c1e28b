import { describe, expect, it } from '@jest/globals';
import middy from '@middy/core';
import { readFile } from 'node:fs/promises';

describe('toolchain', () => {
  it('runs the tests on the pinned Node 22, as Lambda nodejs22.x and the Fargate image do', async () => {
    const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { devDependencies: Record<string, string> };
    expect(manifest.devDependencies.node).toMatch(/^\^?22\./);
    expect(process.versions.node.split('.')[0]).toBe('22');
  });

  it('loads ESM-only dependencies such as @middy/core', async () => {
    const handler = middy<{ n: number }, number>()
      .before((request) => {
        request.event.n += 1;
      })
      .handler((event) => Promise.resolve(event.n * 2));
    await expect(handler({ n: 20 }, {} as Parameters<typeof handler>[1])).resolves.toBe(42);
  });
});
