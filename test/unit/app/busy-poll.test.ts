import { describe, expect, it } from '@jest/globals';
import { startBusyPoll } from '../../../src/app/busy-poll.js';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('busy poll', () => {
  it('keeps the event loop turning while timers still fire, and stops for good', async () => {
    const poll = startBusyPoll();
    await wait(30);
    // A sleeping loop would have turned once for this timer; a polling one turns on and on.
    const during = poll.turns;
    expect(during).toBeGreaterThan(20);
    poll.stop();
    await wait(5);
    const after = poll.turns;
    await wait(20);
    expect(poll.turns).toBe(after);
  });
});
