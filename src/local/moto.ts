/**
 * The local AWS emulator: moto's server from a pinned requirements file, in a project-local virtualenv
 * created on demand, started on a free loopback port. Used by the integration tests and by `npm start`.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const MOTO_REQUIREMENTS = new URL('./moto-requirements.txt', import.meta.url);

export class MotoSetupError extends Error {
  override readonly name = 'MotoSetupError';
}

export interface VenvOptions {
  /** Where the virtualenv lives; git-ignored. */
  readonly venvDir: string;
  /** Python 3.10 or later with the venv module. */
  readonly python?: string;
  readonly requirementsFile?: URL;
  readonly log?: (line: string) => void;
}

async function pythonVersion(python: string): Promise<[number, number]> {
  try {
    const { stdout } = await run(python, ['-c', 'import sys, venv; print(sys.version_info[0], sys.version_info[1])']);
    const [major, minor] = stdout.trim().split(' ').map(Number);
    return [major ?? 0, minor ?? 0];
  } catch (error) {
    throw new MotoSetupError(`cannot run ${python} with the venv module (${(error as Error).message.split('\n')[0] ?? ''}); install Python 3.10+ or set PYTHON`);
  }
}

/** Serialises installs across processes (tests and npm start may start together). */
async function withLock<T>(lockDir: string, work: () => Promise<T>): Promise<T> {
  const staleAfterMs = 10 * 60_000;
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - (await stat(lockDir).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > staleAfterMs) await rm(lockDir, { recursive: true, force: true });
      else await sleep(500);
    }
  }
  try {
    return await work();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

/**
 * Makes sure the virtualenv holds exactly the pinned requirements; returns the moto_server path.
 * A stamp with the requirements' hash makes the second call instant.
 */
export async function ensureMotoVenv(options: VenvOptions): Promise<string> {
  const { venvDir, python = process.env.PYTHON ?? 'python3', requirementsFile = MOTO_REQUIREMENTS, log = () => undefined } = options;
  const requirements = await readFile(requirementsFile);
  const wanted = createHash('sha256').update(requirements).digest('hex');
  const stampFile = join(venvDir, '.requirements.sha256');
  const motoServer = join(venvDir, 'bin', 'moto_server');
  const isCurrent = async (): Promise<boolean> => existsSync(motoServer) && (await readFile(stampFile, 'utf8').catch(() => '')) === wanted;
  if (await isCurrent()) return motoServer;

  const [major, minor] = await pythonVersion(python);
  if (major < 3 || (major === 3 && minor < 10)) throw new MotoSetupError(`moto's server needs Python 3.10+, ${python} is ${major}.${minor}`);

  return withLock(`${venvDir}.lock`, async () => {
    if (await isCurrent()) return motoServer;
    log(`installing the AWS emulator into ${venvDir} (once; about a minute)`);
    try {
      if (!existsSync(join(venvDir, 'bin', 'python'))) await run(python, ['-m', 'venv', venvDir]);
      await run(join(venvDir, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirementsFile.pathname], {
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (error) {
      const detail = (error as { stderr?: string }).stderr?.trim().split('\n').slice(-5).join('\n') ?? (error as Error).message;
      throw new MotoSetupError(`installing moto into ${venvDir} failed:\n${detail}`);
    }
    await writeFile(stampFile, wanted);
    return motoServer;
  });
}

export interface MotoServer {
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly motoServer: string;
  readonly host?: string;
  readonly readyTimeoutMs?: number;
  /**
   * Runs the server in a process group of its own, so that a terminal's Ctrl-C (sent to the whole
   * foreground group) does not stop it before the engine has written its last state; the caller stops it,
   * and it is killed when this process exits in any case.
   */
  readonly ownProcessGroup?: boolean;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new MotoSetupError('could not get a free port'));
      });
    });
  });
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function startOnce(motoServer: string, host: string, readyTimeoutMs: number, ownProcessGroup: boolean): Promise<MotoServer> {
  const port = await freePort(host);
  const child = spawn(motoServer, ['-H', host, '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'], detached: ownProcessGroup });
  if (ownProcessGroup) {
    process.once('exit', () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    });
  }
  let stderrTail = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString()).slice(-2_000);
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const endpoint = `http://${host}:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new MotoSetupError(`moto_server exited with ${child.exitCode} on port ${port}:\n${stderrTail}`);
    const failed = await Promise.race([spawnError, sleep(100).then(() => undefined)]);
    if (failed) throw new MotoSetupError(`cannot start ${motoServer}: ${failed.message}`);
    const ready = await fetch(`${endpoint}/moto-api/data.json`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) {
      return { endpoint, port, pid: child.pid ?? -1, stop: () => stopProcess(child) };
    }
  }
  await stopProcess(child);
  throw new MotoSetupError(`moto_server did not answer on ${endpoint} within ${readyTimeoutMs} ms:\n${stderrTail}`);
}

/** Starts moto on a free loopback port; retries on a port race. */
export async function startMoto(options: StartOptions): Promise<MotoServer> {
  const { motoServer, host = '127.0.0.1', readyTimeoutMs = 30_000, ownProcessGroup = false } = options;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(motoServer, host, readyTimeoutMs, ownProcessGroup);
    } catch (error) {
      lastError = error;
      if (!(error instanceof MotoSetupError) || error.message.startsWith('cannot start')) throw error;
    }
  }
  throw lastError;
}
