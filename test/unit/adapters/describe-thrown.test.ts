/**
 * What a failed venue request logs and reports: only codes and messages, in every shape bybit-api rejects
 * with, and never the object itself (it may hold the request, and the request its signature).
 */
import { describe, expect, it } from '@jest/globals';
import { describeThrown } from '../../../src/adapters/bybit/account.js';

describe('describeThrown', () => {
  it.each([
    ['a bare message (a request that got no answer)', 'connect ECONNREFUSED 127.0.0.1:9', 'connect ECONNREFUSED 127.0.0.1:9'],
    ['the venue envelope (throwExceptions)', { retCode: 10006, retMsg: 'Too many visits!' }, '10006 Too many visits!'],
    ['an envelope without a message', { retCode: 10016 }, '10016'],
    ['an HTTP error', { code: 502, message: 'Bad Gateway', headers: { 'x-bapi-sign': 'abc' } }, 'HTTP 502 Bad Gateway'],
    ['a system error code', { code: 'ECONNRESET', message: 'socket hang up' }, 'ECONNRESET socket hang up'],
    ['an Error', new Error('timeout of 5000ms exceeded'), 'timeout of 5000ms exceeded'],
    ['anything else', { request: { body: 'api_key=SECRET' } }, 'transport error'],
    ['nothing', undefined, 'transport error'],
  ])('%s', (_case, thrown, text) => {
    expect(describeThrown(thrown)).toBe(text);
  });

  it('keeps a long message to 200 characters', () => {
    expect(describeThrown('x'.repeat(500))).toHaveLength(200);
    expect(describeThrown({ code: 500, message: 'y'.repeat(500) })).toHaveLength(209);
  });
});
