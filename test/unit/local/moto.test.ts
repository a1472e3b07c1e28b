import { describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MotoSetupError, ensureMotoVenv, startMoto } from '../../../src/local/moto.js';

describe('the emulator launcher', () => {
  it('says what to do when Python is missing', async () => {
    const venvDir = await mkdtemp(join(tmpdir(), 'venv-'));
    try {
      await expect(ensureMotoVenv({ venvDir, python: '/nonexistent/python3' })).rejects.toThrow(/install Python 3.10\+ or set PYTHON/);
    } finally {
      await rm(venvDir, { recursive: true, force: true });
    }
  });

  it('reports a failed install with pip\'s own words', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'venv-'));
    const requirements = join(dir, 'requirements.txt');
    await writeFile(requirements, 'this-is-not-a-valid==requirement==line\n');
    try {
      const attempt = ensureMotoVenv({ venvDir: join(dir, 'venv'), requirementsFile: pathToFileURL(requirements) });
      await expect(attempt).rejects.toBeInstanceOf(MotoSetupError);
      await expect(attempt).rejects.toThrow(/installing moto into .* failed/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('says which binary could not be started', async () => {
    await expect(startMoto({ motoServer: '/nonexistent/moto_server' })).rejects.toThrow(/cannot start \/nonexistent\/moto_server/);
  });

  it('gives up with the server\'s output when it exits at once', async () => {
    await expect(startMoto({ motoServer: '/bin/false' })).rejects.toThrow(/moto_server exited with 1/);
  });
});
