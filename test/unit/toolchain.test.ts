import { describe, expect, it } from '@jest/globals';
import middy from '@middy/core';
import { readFile } from 'node:fs/promises';

describe('toolchain', () => {
  it('runs the tests on the pinned Node 22, as Lambda nodejs22.x and the Fargate image do', async () => {
    const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { devDependencies: Record<string, string> };
    expect(manifest.devDependencies.node).toMatch(/^\^?22\./);
    expect(process.versions.node.split('.')[0]).toBe('22');
  });

  it("builds the engine's image on the same Node, as the non-root user, with no node_modules", async () => {
    const dockerfile = await readFile(new URL('../../Dockerfile', import.meta.url), 'utf8');
    expect(/^ARG NODE_IMAGE=node:([0-9.]+)-bookworm-slim$/m.exec(dockerfile)?.[1]).toBe(process.versions.node);
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^ENTRYPOINT \["node", "dist\/engine\/main\.mjs"\]$/m);
    expect(runtime).not.toContain('node_modules');
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
