// Starts one moto server for the integration project and exports its endpoint to the test workers through
// the environment (workers are forked after this runs, so they inherit it). Plain ESM JavaScript because
// Jest loads global setup outside its module system; the launcher itself is TypeScript, loaded with tsx.
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  const { ensureMotoVenv, startMoto } = await tsImport('../../src/local/moto.ts', import.meta.url);
  const { MOTO_ENV } = await tsImport('./moto-env.ts', import.meta.url);
  const venvDir = fileURLToPath(new URL('../../.venv', import.meta.url));
  const motoServer = await ensureMotoVenv({ venvDir, log: (line) => process.stderr.write(`\n[moto] ${line}\n`) });
  const server = await startMoto({ motoServer });
  globalThis.motoServer = server;
  process.env[MOTO_ENV.endpoint] = server.endpoint;
}
