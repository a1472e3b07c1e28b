/**
 * Identifier rules shared by configuration, events and order ids. A shard name prefixes every orderLinkId
 * (`<shard>-<epoch>-<seq>`, at most 36 characters at Bybit), which leaves it 20.
 */
export const SHARD_NAME = /^[a-z0-9-]{1,20}$/;
export const SHARD_NAME_RULE = 'expected 1-20 characters of [a-z0-9-]';
