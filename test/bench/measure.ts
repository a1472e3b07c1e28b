/** Shared measuring and printing for `npm run bench`. */
import { cpus, totalmem } from 'node:os';

export interface Result {
  readonly name: string;
  readonly operations: number;
  readonly seconds: number;
  /** Shown instead of "/s" when the operations are not per-second events (e.g. "orders"). */
  readonly unit?: string;
}

/** Runs `body` `operations` times after a warm-up and reports the rate. */
export function measure(name: string, operations: number, body: (index: number) => void): Result {
  for (let index = 0; index < Math.min(operations, 10_000); index++) body(index); // warm up the JIT
  const start = process.hrtime.bigint();
  for (let index = 0; index < operations; index++) body(index);
  return { name, operations, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  return `machine: ${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, ${process.platform}/${process.arch}`;
}

export function formatResult({ name, operations, seconds, unit }: Result): string {
  const perSecond = operations / seconds;
  return `${name.padEnd(58)} ${Math.round(perSecond).toLocaleString('en-US').padStart(12)} ${unit ?? ''}/s  ${((seconds / operations) * 1e9).toFixed(0).padStart(7)} ns/op`;
}
