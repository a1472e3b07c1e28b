/** The lease rules: who may take it, with which epoch, until when. */
import { describe, expect, it } from '@jest/globals';
import { decideTake, epochFloor, renewed } from '../../../src/core/lease.js';

const NOW = 1_800_000_000_000;

describe('lease rules', () => {
  it('a free lease is taken with the time\'s deciseconds as its epoch', () => {
    expect(decideTake(undefined, 's', 'a', NOW, 5_000)).toEqual({ kind: 'take', lease: { shard: 's', owner: 'a', epoch: epochFloor(NOW), expiresAt: NOW + 5_000 } });
  });

  it('a valid lease of another is held; an expired one is taken with a larger epoch, even if its epoch ran ahead of the clock', () => {
    const held = { shard: 's', owner: 'a', epoch: epochFloor(NOW) + 50, expiresAt: NOW + 1 };
    expect(decideTake(held, 's', 'b', NOW, 5_000)).toEqual({ kind: 'held', by: held });
    expect(decideTake(held, 's', 'b', NOW + 1, 5_000)).toMatchObject({ kind: 'take', lease: { owner: 'b', epoch: held.epoch + 1 } });
  });

  it('its holder takes it again as a new generation (a restart), with a larger epoch', () => {
    const held = { shard: 's', owner: 'a', epoch: 7, expiresAt: NOW + 1_000 };
    expect(decideTake(held, 's', 'a', NOW, 5_000)).toMatchObject({ kind: 'take', lease: { owner: 'a', epoch: epochFloor(NOW) } });
    expect(renewed(held, NOW, 5_000)).toEqual({ ...held, expiresAt: NOW + 5_000 });
  });
});
