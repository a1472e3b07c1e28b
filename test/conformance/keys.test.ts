/**
 * Conformance of the API-key management endpoints (sim/http/key-routes.ts), driven by the unmodified
 * bybit-api RestClientV5 over real HTTP. The routes are served by the simulator's REST front on a venue of
 * their own: the key routes plus the existing query-api route, over a KeyStore holding the simulator's
 * default master and sub-account keys.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { RestClientV5 } from 'bybit-api';
import { Exchange } from '../../sim/exchange/exchange.js';
import { type KeyRouteDeps, buildKeyRoutes, randomCredentials } from '../../sim/http/key-routes.js';
import { IpLimiter, UidLimits } from '../../sim/http/rate-limit.js';
import { buildRoutes } from '../../sim/http/routes.js';
import { NO_REST_FAULTS, createRestListener } from '../../sim/http/server.js';
import { seededRandom } from '../../sim/random.js';
import { KeyStore, NINETY_DAYS_MS, TRADING_PERMISSIONS } from '../../sim/venue/keys.js';
import { RecentTrades } from '../../sim/venue/market-data.js';
import { MASTER, TRADER } from '../support/sim.js';

const MASTER_UID = 100000;
const MM_UID = 100001;
/** A sub-account of another master: this venue's master must not reach it. */
const FOREIGN_SUB_UID = 200001;
const DAY_MS = 86_400_000;

interface KeyVenue {
  readonly url: string;
  readonly keys: KeyStore;
  close(): Promise<void>;
}

const open: KeyVenue[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((venue) => venue.close()));
});

/** A fresh venue per test, so every one-second window starts empty. `scale` multiplies the per-UID limits. */
async function startKeyVenue(scale = 1): Promise<KeyVenue> {
  const keys = new KeyStore();
  const createdAt = Date.now();
  keys.add({ apiKey: MASTER.key, secret: MASTER.secret, accountId: 'master', uid: MASTER_UID, note: 'master key', readOnly: false, permissions: TRADING_PERMISSIONS, ips: [], isMaster: true, parentUid: 0, createdAt });
  keys.add({ apiKey: TRADER.key, secret: TRADER.secret, accountId: 'mm', uid: MM_UID, note: 'trading key', readOnly: false, permissions: TRADING_PERMISSIONS, ips: [], isMaster: false, parentUid: MASTER_UID, createdAt });
  const uids = new Map([
    ['master', MASTER_UID],
    ['mm', MM_UID],
    ['foreign', FOREIGN_SUB_UID],
  ]);
  const parents = new Map([
    [MM_UID, MASTER_UID],
    [FOREIGN_SUB_UID, 200000],
  ]);
  const deps: KeyRouteDeps = {
    keys,
    uidOf: (accountId) => uids.get(accountId) ?? 0,
    accountOfUid: (uid) => [...uids].find(([, candidate]) => candidate === uid)?.[0],
    parentOf: (uid) => parents.get(uid),
    clock: Date.now,
    newCredentials: randomCredentials,
  };
  // query-api is the simulator's existing route; it needs a venue state, which it does not use.
  const queryApi = buildRoutes({ exchange: new Exchange({ instruments: [], clock: Date.now }), trades: new RecentTrades(), dcp: new Map() }, new Map()).filter((route) => route.path === '/v5/user/query-api');
  const routes = [...buildKeyRoutes(deps), ...queryApi].map((route) => (route.perSecond === undefined ? route : { ...route, perSecond: route.perSecond * scale }));
  const limits = new UidLimits(routes.flatMap((route) => (route.perSecond === undefined ? [] : [[route.path, route.perSecond] as const])));
  const errors: unknown[] = [];
  const listener = createRestListener({
    routes,
    limits,
    keys,
    serverTime: Date.now,
    ipLimiter: new IpLimiter(),
    faults: { ...NO_REST_FAULTS },
    random: seededRandom(1),
    onError: (error) => errors.push(error),
  });
  const server = createServer({ keepAlive: true }, listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const venue: KeyVenue = {
    url: `http://127.0.0.1:${port}`,
    keys,
    close: async () => {
      await new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      });
      // A handler that threw would have answered 10016; no test expects one.
      expect(errors).toEqual([]);
    },
  };
  open.push(venue);
  return venue;
}

const clientOf = (venue: KeyVenue, credentials: { key: string; secret: string }) => new RestClientV5({ ...credentials, baseUrl: venue.url, parseAPIRateLimits: true });

const DENIED = { retCode: 10005, retMsg: 'Permission denied, please check your API key permissions.' };
const TRADE = { ContractTrade: ['Order', 'Position'] };

describe('create-sub-api', () => {
  it('lets the master create a key for its sub-account; the secret is returned once and the key authenticates', async () => {
    const venue = await startKeyVenue();
    const master = clientOf(venue, MASTER);
    const created = await master.createSubUIDAPIKey({ subuid: MM_UID, note: 'new quoting key', readOnly: 0, permissions: TRADE });
    expect(created).toMatchObject({ retCode: 0, retMsg: '', result: { note: 'new quoting key', readOnly: 0 } });
    const { id, apiKey, secret, permissions } = created.result;
    expect(id).toMatch(/^\d+$/);
    expect(apiKey).toMatch(/^[A-Za-z0-9]{18}$/);
    expect(secret).toMatch(/^[A-Za-z0-9]{36}$/);
    // Every type listed, empty unless granted; and no ips in the create result.
    expect(permissions).toEqual({ ContractTrade: ['Order', 'Position'], Spot: [], Wallet: [], Options: [], Derivatives: [], CopyTrading: [], BlockTrade: [], Exchange: [], NFT: [], Earn: [] });
    expect(created.result).not.toHaveProperty('ips');
    expect(created.rateLimitApi).toMatchObject({ maxRequests: 1, remainingRequests: 0 });

    const described = await clientOf(venue, { key: apiKey, secret }).getQueryApiKey();
    expect(described).toMatchObject({ retCode: 0, result: { id, apiKey, secret: '', note: 'new quoting key', readOnly: 0, userID: MM_UID, isMaster: false, parentUid: String(MASTER_UID), ips: ['*'], deadlineDay: 90 } });
    // No IP bound: invalid 90 days after creation.
    expect(Date.parse(described.result.expiredAt) - Date.parse(described.result.createdAt)).toBe(NINETY_DAYS_MS);
  });

  it('binds the new key to the IPs given; a bound key does not expire', async () => {
    const venue = await startKeyVenue();
    const created = await clientOf(venue, MASTER).createSubUIDAPIKey({ subuid: MM_UID, readOnly: 1, ips: '127.0.0.1, 203.0.113.7', permissions: TRADE });
    expect(created).toMatchObject({ retCode: 0, result: { note: '', readOnly: 1 } });
    expect(venue.keys.find(created.result.apiKey)).toMatchObject({ ips: ['127.0.0.1', '203.0.113.7'], expiresAt: undefined, readOnly: true, uid: MM_UID, accountId: 'mm' });
    const described = await clientOf(venue, { key: created.result.apiKey, secret: created.result.secret }).getQueryApiKey();
    expect(described.result).toMatchObject({ ips: ['127.0.0.1', '203.0.113.7'], readOnly: 1, secret: '' });
  });

  it('refuses a sub-account key with 10005', async () => {
    const venue = await startKeyVenue();
    expect(await clientOf(venue, TRADER).createSubUIDAPIKey({ subuid: MM_UID, readOnly: 0, permissions: TRADE })).toMatchObject({ ...DENIED, result: {} });
    expect(venue.keys.ofUid(MM_UID)).toHaveLength(1);
  });

  it('limits a UID to one request a second: the second gets 10006', async () => {
    const venue = await startKeyVenue();
    const master = clientOf(venue, MASTER);
    const first = await master.createSubUIDAPIKey({ subuid: MM_UID, readOnly: 0, permissions: TRADE });
    const second = await master.createSubUIDAPIKey({ subuid: MM_UID, readOnly: 0, permissions: TRADE });
    expect(first.retCode).toBe(0);
    expect(second).toMatchObject({ retCode: 10006, retMsg: 'Too many visits!' });
    expect(second.rateLimitApi).toMatchObject({ maxRequests: 1, remainingRequests: 0 });
    expect(venue.keys.ofUid(MM_UID)).toHaveLength(2);
  });
});

describe('parameter validation: 10001 naming the field', () => {
  it('refuses bad create-sub-api parameters', async () => {
    const venue = await startKeyVenue(100);
    const master = clientOf(venue, MASTER);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ readOnly: 0, permissions: TRADE }, /^params error: subuid: /],
      [{ subuid: 'mm', readOnly: 0, permissions: TRADE }, /^params error: subuid: /],
      [{ subuid: MM_UID, readOnly: 2, permissions: TRADE }, /^params error: readOnly: /],
      [{ subuid: MM_UID, readOnly: 0 }, /^params error: permissions: /],
      [{ subuid: MM_UID, readOnly: 0, permissions: {} }, /^params error: permissions: at least one permission/],
      [{ subuid: MM_UID, readOnly: 0, permissions: { ContractTrade: [] } }, /^params error: permissions: at least one permission/],
      [{ subuid: MM_UID, readOnly: 0, permissions: { ContractTrade: ['Orders'] } }, /^params error: permissions\.ContractTrade\.0: /],
      [{ subuid: MM_UID, readOnly: 0, permissions: { Withdrawal: ['Withdrawal'] } }, /^params error: permissions: .*Withdrawal/],
      [{ subuid: MM_UID, readOnly: 0, permissions: TRADE, ips: '127.0.0.1,not-an-ip' }, /^params error: ips: /],
      [{ subuid: MM_UID, readOnly: 0, permissions: TRADE, ips: '*,127.0.0.1' }, /^params error: ips: /],
      [{ subuid: FOREIGN_SUB_UID, readOnly: 0, permissions: TRADE }, /^params error: subuid: is not a sub-account of this master$/],
      [{ subuid: MASTER_UID, readOnly: 0, permissions: TRADE }, /^params error: subuid: is not a sub-account of this master$/],
      [{ subuid: 999999, readOnly: 0, permissions: TRADE }, /^params error: subuid: is not a sub-account of this master$/],
    ];
    for (const [params, message] of cases) {
      // The SDK passes the object through unchanged; the cast lets malformed requests reach the venue.
      const response = await master.createSubUIDAPIKey(params as unknown as Parameters<RestClientV5['createSubUIDAPIKey']>[0]);
      expect({ params, retCode: response.retCode, retMsg: response.retMsg }).toEqual({ params, retCode: 10001, retMsg: expect.stringMatching(message) });
    }
    expect(venue.keys.ofUid(MM_UID)).toHaveLength(1);
  });

  it('refuses bad update and delete parameters', async () => {
    const venue = await startKeyVenue(100);
    const master = clientOf(venue, MASTER);
    const trader = clientOf(venue, TRADER);
    // A master must name the sub key; a sub key must not name any.
    expect(await master.updateSubApiKey({ readOnly: 1, permissions: TRADE })).toMatchObject({ retCode: 10001, retMsg: 'params error: apikey: is required when a master key calls' });
    expect(await trader.updateSubApiKey({ apikey: TRADER.key, permissions: TRADE })).toMatchObject({ retCode: 10001, retMsg: expect.stringMatching(/^params error: apikey: must not be passed/) });
    expect(await master.deleteSubApiKey()).toMatchObject({ retCode: 10001, retMsg: expect.stringMatching(/^params error: apikey: /) });
    expect(await trader.deleteSubApiKey({ apikey: TRADER.key })).toMatchObject({ retCode: 10001, retMsg: expect.stringMatching(/^params error: apikey: /) });
    // The master's own key and unknown keys are not its sub-accounts' keys.
    for (const apikey of [MASTER.key, 'NOSUCHKEY']) {
      expect(await master.updateSubApiKey({ apikey, permissions: TRADE })).toMatchObject({ retCode: 10001, retMsg: 'params error: apikey: is not a key of a sub-account of this master' });
      expect(await master.deleteSubApiKey({ apikey })).toMatchObject({ retCode: 10001, retMsg: 'params error: apikey: is not a key of a sub-account of this master' });
    }
    expect(await master.updateMasterApiKey({ readOnly: 3 as 0, permissions: TRADE })).toMatchObject({ retCode: 10001, retMsg: expect.stringMatching(/^params error: readOnly: /) });
    expect(await master.updateMasterApiKey({ apikey: TRADER.key, permissions: TRADE })).toMatchObject({ retCode: 10001, retMsg: 'params error: apikey: update-api modifies the calling key only' });
    const badIps = { apikey: TRADER.key, ips: ['10.0.0.300'], permissions: TRADE };
    expect(await master.updateSubApiKey(badIps)).toMatchObject({ retCode: 10001, retMsg: expect.stringMatching(/^params error: ips: /) });
    // Nothing changed or vanished.
    expect(venue.keys.find(TRADER.key)).toMatchObject({ readOnly: false, ips: [] });
    expect(venue.keys.find(MASTER.key)).toMatchObject({ readOnly: false });
  });
});

describe('update-sub-api', () => {
  it('lets the master modify a key of its sub-account, IPs as an array', async () => {
    const venue = await startKeyVenue();
    const master = clientOf(venue, MASTER);
    // bybit-api's type has no ips; callers following UpdateSubApiKeyUpdateParamsV5 send an array.
    const params = { apikey: TRADER.key, readOnly: 1 as const, ips: ['127.0.0.1'], permissions: { ContractTrade: ['Position'] } };
    const updated = await master.updateSubApiKey(params);
    expect(updated).toMatchObject({ retCode: 0, retMsg: '', result: { apiKey: TRADER.key, readOnly: 1, secret: '', ips: ['127.0.0.1'], note: 'trading key' } });
    expect(updated.result.permissions).toMatchObject({ ContractTrade: ['Position'], Spot: [], Wallet: [] });
    expect(updated.rateLimitApi).toMatchObject({ maxRequests: 5, remainingRequests: 4 });

    // Bound to an IP now: no longer expires. The sub key sees its new settings.
    expect(venue.keys.find(TRADER.key)?.expiresAt).toBeUndefined();
    const described = await clientOf(venue, TRADER).getQueryApiKey();
    expect(described.result).toMatchObject({ readOnly: 1, ips: ['127.0.0.1'], permissions: { ContractTrade: ['Position'] } });

    // Unbinding ("*") brings back the 90-day expiry, counted from creation.
    await master.updateSubApiKey({ apikey: TRADER.key, ips: '*', permissions: TRADE } as Parameters<RestClientV5['updateSubApiKey']>[0]);
    const unbound = venue.keys.find(TRADER.key);
    expect(unbound?.ips).toEqual(['*']);
    expect(unbound && unbound.expiresAt !== undefined ? unbound.expiresAt - unbound.createdAt : undefined).toBe(NINETY_DAYS_MS);
  });

  it('lets a sub key modify itself when it passes no apikey', async () => {
    const venue = await startKeyVenue();
    const trader = clientOf(venue, TRADER);
    const updated = await trader.updateSubApiKey({ readOnly: 1, permissions: { ContractTrade: ['Order', 'Position'], Spot: ['SpotTrade'] } });
    expect(updated).toMatchObject({ retCode: 0, retMsg: '', result: { apiKey: TRADER.key, readOnly: 1, secret: '', ips: ['*'], permissions: { ContractTrade: ['Order', 'Position'], Spot: ['SpotTrade'] } } });
    expect((await trader.getQueryApiKey()).result).toMatchObject({ readOnly: 1, permissions: { Spot: ['SpotTrade'] } });
    // null leaves a field unchanged, as in the docs' own request example.
    const unchanged = await trader.updateSubApiKey({ readOnly: null, permissions: null } as unknown as Parameters<RestClientV5['updateSubApiKey']>[0]);
    expect(unchanged).toMatchObject({ retCode: 0, result: { readOnly: 1, permissions: { Spot: ['SpotTrade'] } } });
  });
});

describe('update-api', () => {
  it('modifies the calling master key', async () => {
    const venue = await startKeyVenue();
    const updated = await clientOf(venue, MASTER).updateMasterApiKey({ readOnly: 1, permissions: { Wallet: ['AccountTransfer'] } });
    expect(updated).toMatchObject({ retCode: 0, retMsg: '', result: { apiKey: MASTER.key, readOnly: 1, secret: '', ips: ['*'], permissions: { ContractTrade: [], Wallet: ['AccountTransfer'] } } });
    expect(venue.keys.find(MASTER.key)).toMatchObject({ readOnly: true, permissions: expect.objectContaining({ Wallet: ['AccountTransfer'], ContractTrade: [] }) });
  });

  it('refuses IP changes with 141019 (no longer allowed over the API)', async () => {
    const venue = await startKeyVenue();
    const params = { ips: '127.0.0.1', permissions: TRADE };
    expect(await clientOf(venue, MASTER).updateMasterApiKey(params)).toMatchObject({ retCode: 141019, retMsg: 'To add or update the IP whitelist, go to API management and select Edit' });
    expect(venue.keys.find(MASTER.key)?.ips).toEqual([]);
  });

  it('refuses a non-master key with 10005', async () => {
    const venue = await startKeyVenue();
    expect(await clientOf(venue, TRADER).updateMasterApiKey({ readOnly: 1, permissions: TRADE })).toMatchObject(DENIED);
    expect(venue.keys.find(TRADER.key)?.readOnly).toBe(false);
  });
});

describe('delete-sub-api', () => {
  it('lets the master delete its sub-account\'s key, which then fails with 10003', async () => {
    const venue = await startKeyVenue();
    const trader = clientOf(venue, TRADER);
    expect((await trader.getQueryApiKey()).retCode).toBe(0);
    const deleted = await clientOf(venue, MASTER).deleteSubApiKey({ apikey: TRADER.key });
    expect(deleted).toMatchObject({ retCode: 0, retMsg: '', result: {} });
    expect(await trader.getQueryApiKey()).toMatchObject({ retCode: 10003, retMsg: 'API key is invalid.' });
  });

  it('lets a sub key delete itself', async () => {
    const venue = await startKeyVenue();
    const trader = clientOf(venue, TRADER);
    expect(await trader.deleteSubApiKey()).toMatchObject({ retCode: 0, retMsg: '', result: {} });
    expect(await trader.getQueryApiKey()).toMatchObject({ retCode: 10003 });
    expect(venue.keys.find(TRADER.key)).toBeUndefined();
  });
});

describe('delete-api', () => {
  it('deletes the calling master key, which is invalid immediately', async () => {
    const venue = await startKeyVenue();
    const master = clientOf(venue, MASTER);
    expect(await master.deleteMasterApiKey()).toMatchObject({ retCode: 0, retMsg: '', result: {} });
    expect(await master.getQueryApiKey()).toMatchObject({ retCode: 10003, retMsg: 'API key is invalid.' });
    // The sub-account's key is untouched.
    expect((await clientOf(venue, TRADER).getQueryApiKey()).retCode).toBe(0);
  });

  it('refuses a non-master key with 10005', async () => {
    const venue = await startKeyVenue();
    const trader = clientOf(venue, TRADER);
    expect(await trader.deleteMasterApiKey()).toMatchObject(DENIED);
    expect((await trader.getQueryApiKey()).retCode).toBe(0);
  });
});

describe('randomCredentials', () => {
  it('makes Bybit-shaped, distinct credentials', () => {
    const made = Array.from({ length: 50 }, randomCredentials);
    for (const { apiKey, secret } of made) {
      expect(apiKey).toMatch(/^[A-Za-z0-9]{18}$/);
      expect(secret).toMatch(/^[A-Za-z0-9]{36}$/);
    }
    expect(new Set(made.map(({ apiKey }) => apiKey)).size).toBe(made.length);
  });
});

describe('expiry of a created key', () => {
  it('is 90 days from creation on the deps clock', async () => {
    const venue = await startKeyVenue();
    const before = Date.now();
    const created = await clientOf(venue, MASTER).createSubUIDAPIKey({ subuid: MM_UID, readOnly: 0, permissions: TRADE });
    const key = venue.keys.find(created.result.apiKey);
    expect(key?.createdAt).toBeGreaterThanOrEqual(before);
    expect(key?.expiresAt).toBe((key?.createdAt ?? 0) + 90 * DAY_MS);
  });
});
