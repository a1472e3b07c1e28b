/**
 * The two parts of the trading-key swap kept apart (src/app/swappable.ts): the stand-in that forwards to
 * the client in place and counts its calls in flight, and the runner that serialises swaps, latest wins.
 */
import { describe, expect, it } from '@jest/globals';
import { LatestOnly, Swappable } from '../../../src/app/swappable.js';

class FakeClient {
  readonly calls: string[] = [];
  private readonly pending: { resolve: () => void; reject: (error: Error) => void }[] = [];

  constructor(readonly name: string) {}

  who(): string {
    return this.name;
  }

  request(what: string): Promise<string> {
    this.calls.push(what);
    return new Promise<string>((resolve, reject) => {
      this.pending.push({ resolve: () => resolve(`${this.name}:${what}`), reject });
    });
  }

  settleAll(): void {
    for (const call of this.pending.splice(0)) call.resolve();
  }

  settleNext(): void {
    this.pending.shift()?.resolve();
  }

  failAll(): void {
    for (const call of this.pending.splice(0)) call.reject(new Error('connection lost'));
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Swappable', () => {
  it('forwards property reads and calls to the client in place, and follows a swap', async () => {
    const first = new FakeClient('first');
    const second = new FakeClient('second');
    const holder = new Swappable(first);
    const client = holder.proxy;
    expect(client.name).toBe('first');
    expect(client.who()).toBe('first');
    const early = client.request('a');
    first.settleAll();
    await expect(early).resolves.toBe('first:a');

    expect(holder.swap(second)).toBe(first);
    expect(holder.get()).toBe(second);
    expect(client.who()).toBe('second');
    const late = client.request('b');
    second.settleAll();
    await expect(late).resolves.toBe('second:b');
    expect(first.calls).toEqual(['a']);
    expect(second.calls).toEqual(['b']);
  });

  it('says when the calls in flight on a client have settled, failed ones included', async () => {
    const first = new FakeClient('first');
    const holder = new Swappable(first);
    expect(await holder.drained(first, 10)).toBe(true);
    const one = holder.proxy.request('one');
    const two = holder.proxy.request('two');
    holder.swap(new FakeClient('second'));
    const drained = holder.drained(first, 5_000);
    first.settleNext();
    await one;
    // Still one in flight: not drained yet.
    const state = await Promise.race([drained.then(() => 'drained'), tick().then(() => 'waiting')]);
    expect(state).toBe('waiting');
    first.settleNext();
    await two;
    expect(await drained).toBe(true);

    const three = holder.drained(first, 5_000);
    expect(await three).toBe(true);
  });

  it('counts a rejected call as settled, leaving the rejection to the caller', async () => {
    const first = new FakeClient('first');
    const holder = new Swappable(first);
    const call = holder.proxy.request('doomed');
    const drained = holder.drained(first, 5_000);
    first.failAll();
    await expect(call).rejects.toThrow('connection lost');
    expect(await drained).toBe(true);
  });

  it('gives up waiting after the timeout when a call never settles', async () => {
    const first = new FakeClient('first');
    const holder = new Swappable(first);
    void holder.proxy.request('hanging');
    expect(await holder.drained(first, 20)).toBe(false);
  });
});

describe('LatestOnly', () => {
  function recorder() {
    const started: string[] = [];
    const gates: (() => void)[] = [];
    const runner = new LatestOnly<string>(async (value) => {
      started.push(value);
      await new Promise<void>((resolve) => gates.push(resolve));
      if (value.startsWith('bad')) throw new Error(`job ${value} failed`);
    });
    const release = async () => {
      await tick();
      gates.shift()?.();
      await tick();
    };
    return { runner, started, release };
  }

  it('runs one job at a time; values given while one runs are coalesced into the next, the latest winning', async () => {
    const { runner, started, release } = recorder();
    const first = runner.submit('a');
    await tick();
    expect(started).toEqual(['a']);
    const second = runner.submit('b');
    const third = runner.submit('c');
    expect(third).toBe(second);
    await tick();
    expect(started).toEqual(['a']);
    await release();
    await first;
    expect(started).toEqual(['a', 'c']);
    await release();
    await third;
    expect(started).toEqual(['a', 'c']);
    await runner.idle();
  });

  it('rejects the callers of a failed run, and runs the next one all the same', async () => {
    const { runner, started, release } = recorder();
    const failing = runner.submit('bad-1');
    await tick();
    const after = runner.submit('d');
    await release();
    await expect(failing).rejects.toThrow('job bad-1 failed');
    await release();
    await expect(after).resolves.toBeUndefined();
    expect(started).toEqual(['bad-1', 'd']);
  });

  it('is idle once every run scheduled has finished', async () => {
    const { runner, release } = recorder();
    let idle = false;
    void runner.submit('a').catch(() => undefined);
    void runner.idle().then(() => {
      idle = true;
    });
    await tick();
    expect(idle).toBe(false);
    await release();
    await tick();
    expect(idle).toBe(true);
  });
});
