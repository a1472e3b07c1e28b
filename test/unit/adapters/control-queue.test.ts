/**
 * Control-queue messages (src/adapters/sqs/control-queue.ts): an EventBridge envelope with a valid Freeze
 * or Unfreeze detail wakes the engine; anything else is named as malformed (and left for the DLQ).
 */
import { describe, expect, it } from '@jest/globals';
import { parseControlMessage } from '../../../src/adapters/sqs/control-queue.js';

const freeze = { schemaVersion: 1, eventId: 'freeze:4', freezeVersion: 4, symbols: [], reason: { code: 'manual', message: 'x' }, actor: 'op', frozenAt: 1 };
const envelope = (detailType: string, detail: unknown) => JSON.stringify({ version: '0', id: 'e', 'detail-type': detailType, source: 'mm-rebate-bot.freeze-api', time: '2026-11-24T00:00:00Z', region: 'ap-southeast-1', resources: [], detail });

describe('parseControlMessage', () => {
  it('reads the version of a Freeze or Unfreeze', () => {
    expect(parseControlMessage(envelope('Freeze', freeze))).toEqual({ ok: true, detailType: 'Freeze', version: 4 });
    const unfreeze = { schemaVersion: 1, eventId: 'unfreeze:4', freezeVersion: 4, reason: { message: 'ok' }, actor: 'op', unfrozenAt: 2 };
    expect(parseControlMessage(envelope('Unfreeze', unfreeze))).toEqual({ ok: true, detailType: 'Unfreeze', version: 4 });
  });

  it.each([
    ['not JSON', '{', 'the body is not JSON'],
    ['no body', undefined, 'the body is not JSON'],
    ['not an envelope', JSON.stringify({ hello: 1 }), 'not an EventBridge event: detail-type'],
    ['another detail type', envelope('Fill', {}), 'unexpected detail-type "Fill"'],
    ['a bad detail', envelope('Freeze', { ...freeze, eventId: 'freeze:5' }), 'eventId: eventId must be freeze:<freezeVersion>'],
    ['an unknown version', envelope('Freeze', { ...freeze, schemaVersion: 2 }), 'schemaVersion: unsupported 2 for Freeze'],
  ])('%s is malformed, and says why', (_what, body, error) => {
    const parsed = parseControlMessage(body);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain(error);
  });
});
