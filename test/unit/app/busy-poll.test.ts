import { describe, expect, it } from '@jest/globals';
import { startBusyPoll } from '../../../src/app/busy-poll.js';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('busy poll', () => {
  it('keeps the event loop turning while timers still fire, and stops for good', async () => {
    const poll = startBusyPoll();
    // A sleeping loop would turn once for a 30 ms timer; a polling one turns on and on. Under load (the
    // other test workers share the two cores) a window can be starved, so the best of a few counts.
    let most = 0;
    for (let window = 0; window < 20 && most <= 20; window++) {
      const before = poll.turns;
      await wait(30);
      most = Math.max(most, poll.turns - before);
    }
    expect(most).toBeGreaterThan(20);
    poll.stop();
    await wait(5);
    const after = poll.turns;
    await wait(20);
    expect(poll.turns).toBe(after);
  });
});
