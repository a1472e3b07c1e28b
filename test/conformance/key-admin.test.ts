/**
 * The key-management adapter the rotation will use (src/adapters/bybit/key-admin.ts), over the real
 * bybit-api client and HTTP against the simulator: a new key for the trading sub-account with the current
 * key's grants and IPs works at once and is described as such; deleted, it is refused at once; a
 * sub-account's keys are listed page after page, secrets masked, and the simulator's GET /v5/user/sub-apikeys
 * answers Bybit's shape, paging and refusals; refusals carry Bybit's code and never a key or a secret.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type IncomingMessage, type RequestListener, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RestClientV5 } from 'bybit-api';
import { BybitKeyAdmin, KEY_REFUSED_CODES, KeyAdminError } from '../../src/adapters/bybit/key-admin.js';
import { DEFAULT_ACCOUNTS, type SimAccountSpec, type Simulator, startSimulator } from '../../sim/simulator.js';
import { MASTER, TRADER } from '../support/sim.js';
import { rejectionOf } from '../support/rejection.js';

let sim: Simulator;
let admin: BybitKeyAdmin;
const master = { apiKey: MASTER.key, apiSecret: MASTER.secret };
const trader = { apiKey: TRADER.key, apiSecret: TRADER.secret };

beforeAll(async () => {
  sim = await startSimulator({ seed: 31 });
  admin = new BybitKeyAdmin({ restUrl: sim.restUrl, recvWindowMs: 5000 });
});

afterAll(async () => {
  await sim.close();
});

/** create-sub-api and delete-sub-api allow one request a second per UID. */
const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1_050));

/** A fake venue on loopback answering every request with `listener`, for answers the simulator never gives. */
async function withFakeVenue(listener: RequestListener, work: (admin: BybitKeyAdmin) => Promise<void>): Promise<void> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await work(new BybitKeyAdmin({ restUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, recvWindowMs: 5000 }));
  } finally {
    server.close();
  }
}


describe('BybitKeyAdmin', () => {
  it('describes the calling key: its sub-account, grants (non-empty groups only), IPs and expiry', async () => {
    const described = await admin.describe(trader);
    expect(described).toMatchObject({ apiKey: TRADER.key, readOnly: false, isMaster: false, permissions: { ContractTrade: ['Order', 'Position'] } });
    expect(described.parentUid).toBe((await admin.describe(master)).uid);
    expect(Object.values(described.permissions).every((grants) => grants.length > 0)).toBe(true);
    expect((await admin.describe(master)).parentUid).toBeUndefined();
  });

  it('creates a key like the current one for its sub-account, which works at once; deleted, it is refused at once', async () => {
    const current = await admin.describe(trader);
    const created = await admin.createSubAccountKey(master, { subUid: current.uid, readOnly: false, permissions: current.permissions, ips: ['127.0.0.1'], note: 'rotation test' });
    expect(created.apiKey).not.toBe(TRADER.key);
    const fresh = await admin.describe({ apiKey: created.apiKey, apiSecret: created.apiSecret });
    expect(fresh).toMatchObject({ id: created.id, uid: current.uid, permissions: current.permissions, ips: ['127.0.0.1'], note: 'rotation test', expiresAt: undefined });

    await nextSecond();
    await admin.deleteSubAccountKey(master, created.apiKey);
    const refused = await rejectionOf(admin.describe({ apiKey: created.apiKey, apiSecret: created.apiSecret }), KeyAdminError);
    expect(KEY_REFUSED_CODES).toContain(refused.retCode);
    // The current key is untouched.
    expect((await admin.describe(trader)).apiKey).toBe(TRADER.key);
  });

  it('an unbound key is described with its expiry (Bybit expires it after 90 days)', async () => {
    await nextSecond();
    const current = await admin.describe(trader);
    const created = await admin.createSubAccountKey(master, { subUid: current.uid, readOnly: true, permissions: current.permissions, ips: ['*'], note: '' });
    const fresh = await admin.describe({ apiKey: created.apiKey, apiSecret: created.apiSecret });
    expect(fresh).toMatchObject({ readOnly: true, ips: ['*'] });
    expect(Date.parse(fresh.expiresAt ?? '') - Date.now()).toBeGreaterThan(89 * 86_400_000);
    await nextSecond();
    await admin.deleteSubAccountKey(master, created.apiKey);
  });

  it('refusals name the request and Bybit\'s code, never a key or a secret', async () => {
    await nextSecond();
    // A sub-account key may not create keys: 10005.
    const denied = await rejectionOf(admin.createSubAccountKey(trader, { subUid: 1, readOnly: false, permissions: { ContractTrade: ['Order'] }, ips: [], note: '' }), KeyAdminError);
    expect(denied.retCode).toBe(10005);
    expect(denied.message).toMatch(/^create-sub-api refused: 10005 /);
    const unknown = await rejectionOf(admin.deleteSubAccountKey(master, 'NOSUCHKEY'), KeyAdminError);
    expect(unknown).toMatchObject({ retCode: 10001 });
    const badSecret = await rejectionOf(admin.describe({ apiKey: TRADER.key, apiSecret: 'wrong-secret' }), KeyAdminError);
    expect(badSecret.retCode).toBe(10004);
    for (const error of [denied, unknown, badSecret]) {
      expect(error.message).not.toContain(TRADER.secret);
      expect(error.message).not.toContain(MASTER.secret);
      expect(error.message).not.toContain('wrong-secret');
    }
  });

  it('a venue that does not answer is a transport failure, without a code', async () => {
    const gone = new BybitKeyAdmin({ restUrl: 'http://127.0.0.1:9', recvWindowMs: 5000 });
    const failed = await rejectionOf(gone.describe(trader), KeyAdminError);
    expect(failed.retCode).toBeUndefined();
    expect(failed.message).toMatch(/^query-api failed: /);
  });

  it('an answer in an unexpected shape is refused with the fields named, and nothing of its content', async () => {
    const oddAnswer: RequestListener = (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ retCode: 0, retMsg: 'OK', result: { apiKey: 'LEAKEDKEY', secret: 'leaked-secret' }, time: Date.now() }));
    };
    await withFakeVenue(oddAnswer, async (odd) => {
      const created = await rejectionOf(odd.createSubAccountKey(master, { subUid: 1, readOnly: false, permissions: { ContractTrade: ['Order'] }, ips: [], note: '' }), KeyAdminError);
      expect(created.message).toMatch(/^create-sub-api answered in an unexpected shape: id: /);
      const described = await rejectionOf(odd.describe(trader), KeyAdminError);
      expect(described.message).toMatch(/^query-api answered in an unexpected shape: /);
      const listed = await rejectionOf(odd.listSubAccountKeys(master, 1), KeyAdminError);
      expect(listed).toMatchObject({ retCode: undefined, message: expect.stringMatching(/^sub-apikeys answered in an unexpected shape: result: /) });
      for (const error of [created, described, listed]) expect(error.message).not.toMatch(/LEAKEDKEY|leaked-secret/);
    });
  });
});

// ---- GET /v5/user/sub-apikeys ----

const MASTER_UID = 100000;
const MM_UID = 100001;
/** Not a sub-account: the venue's own flow account (sim/simulator.ts). */
const FLOW_UID = 100002;
/** Sub-accounts of the master holding only the keys these tests give them, so that listings are exact. */
const SPARE: SimAccountSpec = { accountId: 'spare', uid: 100003, makerFeeRate: '0.0002', takerFeeRate: '0.00055', walletBalance: '0' };
const EMPTY: SimAccountSpec = { accountId: 'empty', uid: 100004, makerFeeRate: '0.0002', takerFeeRate: '0.00055', walletBalance: '0' };
const DAY_MS = 86_400_000;
const TRADE = { ContractTrade: ['Order', 'Position'] };
const NO_GRANTS = { Spot: [], Wallet: [], Options: [], Derivatives: [], CopyTrading: [], BlockTrade: [], Exchange: [], NFT: [], Earn: [] };
type ListParams = Parameters<RestClientV5['getSubAccountAllApiKeys']>[0];

describe('BybitKeyAdmin.listSubAccountKeys and GET /v5/user/sub-apikeys', () => {
  /**
   * A venue with Bybit's limits times 100, so that the tests below may send more than the default 10
   * listings a second and create keys without waiting; the default limit itself is tested on `sim`.
   */
  let roomy: Simulator;
  let roomyAdmin: BybitKeyAdmin;
  let raw: RestClientV5;
  /** The keys of SPARE in creation order, as the tests below give and take them. */
  const spareKeys: { readonly apiKey: string; readonly secret: string }[] = [];
  const spareUid = String(SPARE.uid);

  beforeAll(async () => {
    roomy = await startSimulator({ seed: 32, accounts: [...DEFAULT_ACCOUNTS, SPARE, EMPTY], rateLimitScale: 100 });
    roomyAdmin = new BybitKeyAdmin({ restUrl: roomy.restUrl, recvWindowMs: 5000 });
    raw = new RestClientV5({ key: MASTER.key, secret: MASTER.secret, baseUrl: roomy.restUrl });
  });

  afterAll(async () => {
    await roomy.close();
  });

  /** A key put straight into the venue's store: create-sub-api cannot back-date a key to near its expiry. */
  const seedKey = (index: number, ageDays: number) => {
    const secret = `seeded-secret-${index}`;
    roomy.keys.add({ apiKey: `SEEDEDSPAREKEY${String(index).padStart(4, '0')}`, secret, accountId: SPARE.accountId, uid: SPARE.uid, note: `seeded ${index}`, readOnly: false, permissions: TRADE, ips: [], isMaster: false, parentUid: MASTER_UID, createdAt: roomy.now() - ageDays * DAY_MS });
    spareKeys.push({ apiKey: `SEEDEDSPAREKEY${String(index).padStart(4, '0')}`, secret });
  };

  /** Every page of SPARE's listing at `limit` keys a page. */
  const rawPages = async (limit: number) => {
    const pages = [];
    let cursor = '';
    do {
      const response = await raw.getSubAccountAllApiKeys({ subMemberId: spareUid, limit, ...(cursor !== '' && { cursor }) });
      expect(response).toMatchObject({ retCode: 0, retMsg: '' });
      pages.push(response);
      cursor = response.result.nextPageCursor;
    } while (cursor !== '');
    return pages;
  };

  it('lists every key of a sub-account over more than one page, in creation order, with the ids and notes create returned and no secret', async () => {
    const bound = await roomyAdmin.createSubAccountKey(master, { subUid: SPARE.uid, readOnly: true, permissions: TRADE, ips: ['127.0.0.1'], note: 'rotation 1' });
    const unbound = await roomyAdmin.createSubAccountKey(master, { subUid: SPARE.uid, readOnly: false, permissions: TRADE, ips: ['*'], note: 'rotation 2' });
    spareKeys.push({ apiKey: bound.apiKey, secret: bound.apiSecret }, { apiKey: unbound.apiKey, secret: unbound.apiSecret });
    // 5 days left, expired a day ago, then 18 fresh ones: 22 keys, more than a page of 20.
    [85, 91, ...Array.from({ length: 18 }, () => 0)].forEach((ageDays, index) => {
      seedKey(index, ageDays);
    });

    const listed = await roomyAdmin.listSubAccountKeys(master, SPARE.uid);
    expect(listed.map((key) => key.apiKey)).toEqual(spareKeys.map((key) => key.apiKey));
    const createdAt = (apiKey: string) => new Date(roomy.keys.find(apiKey)?.createdAt ?? 0).toISOString();
    expect(listed[0]).toEqual({ id: bound.id, apiKey: bound.apiKey, note: 'rotation 1', readOnly: true, ips: ['127.0.0.1'], status: 'permanent', expiresAt: undefined, createdAt: createdAt(bound.apiKey) });
    expect(listed[1]).toMatchObject({ id: unbound.id, apiKey: unbound.apiKey, note: 'rotation 2', readOnly: false, ips: ['*'], status: 'valid' });
    expect(Date.parse(listed[1]?.expiresAt ?? '') - Date.parse(listed[1]?.createdAt ?? '')).toBe(90 * DAY_MS);
    expect(listed[2]).toMatchObject({ note: 'seeded 0', status: 'expiring' });
    expect(Date.parse(listed[2]?.expiresAt ?? '') - Date.now()).toBeLessThan(7 * DAY_MS);
    // An expired key is still listed until deleted.
    expect(listed[3]).toMatchObject({ note: 'seeded 1', status: 'expired' });
    expect(Date.parse(listed[3]?.expiresAt ?? '')).toBeLessThan(Date.now());
    expect(listed.slice(4).every((key) => key.status === 'valid')).toBe(true);
    for (const { secret } of spareKeys) expect(JSON.stringify(listed)).not.toContain(secret);
  });

  it('answers Bybit\'s shape: the list nested in result, the secret masked, readOnly a boolean, pages of `limit` keys chained by nextPageCursor', async () => {
    const pages = await rawPages(3);
    expect(pages.map((page) => page.result.result.length)).toEqual([3, 3, 3, 3, 3, 3, 3, 1]);
    expect(pages.slice(0, -1).every((page) => page.result.nextPageCursor !== '')).toBe(true);
    // bybit-api declares query-api's item type here, which has neither status nor flag, and readOnly 0 | 1.
    const items = pages.flatMap((page) => page.result.result as unknown as Record<string, unknown>[]);
    expect(items.map((item) => item.apiKey)).toEqual(spareKeys.map((key) => key.apiKey));
    const bound = roomy.keys.find(spareKeys[0]?.apiKey ?? '');
    expect(items[0]).toEqual({
      id: String(bound?.id),
      ips: ['127.0.0.1'],
      apiKey: bound?.apiKey,
      note: 'rotation 1',
      status: 1,
      expiredAt: '1970-01-01T00:00:00Z',
      createdAt: new Date(bound?.createdAt ?? 0).toISOString(),
      type: 1,
      permissions: { ContractTrade: ['Order', 'Position'], ...NO_GRANTS },
      secret: '******',
      readOnly: true,
      deadlineDay: -2,
      flag: 'hmac',
    });
    // Unbound: 90 days; 5 days left; expired; then fresh keys bound to no IP.
    expect(items.slice(1, 5).map(({ status, deadlineDay, ips, readOnly }) => ({ status, deadlineDay, ips, readOnly }))).toEqual([
      { status: 3, deadlineDay: 90, ips: ['*'], readOnly: false },
      { status: 4, deadlineDay: 5, ips: ['*'], readOnly: false },
      { status: 2, deadlineDay: 0, ips: ['*'], readOnly: false },
      { status: 3, deadlineDay: 90, ips: ['*'], readOnly: false },
    ]);
    expect(items.every((item) => item.secret === '******' && typeof item.readOnly === 'boolean' && item.type === 1 && item.flag === 'hmac')).toBe(true);
    for (const { secret } of spareKeys) expect(JSON.stringify(pages)).not.toContain(secret);

    // Without a limit, 20 a page; an empty cursor is the first page.
    const first = await raw.getSubAccountAllApiKeys({ subMemberId: spareUid, cursor: '' });
    expect(first.result.result.map((item) => item.apiKey)).toEqual(spareKeys.slice(0, 20).map((key) => key.apiKey));
    expect(first.result.nextPageCursor).not.toBe('');
  });

  it('a deleted key is no longer listed; a cursor stays good when keys are deleted or created between pages', async () => {
    const first = await raw.getSubAccountAllApiKeys({ subMemberId: spareUid, limit: 2 });
    const [, , next, afterNext, third] = spareKeys;
    // Delete the key the next page starts with, and add one: the next page starts after the deleted one.
    await roomyAdmin.deleteSubAccountKey(master, next?.apiKey ?? '');
    const added = await roomyAdmin.createSubAccountKey(master, { subUid: SPARE.uid, readOnly: false, permissions: TRADE, ips: ['127.0.0.1'], note: 'rotation 3' });
    const second = await raw.getSubAccountAllApiKeys({ subMemberId: spareUid, limit: 2, cursor: first.result.nextPageCursor });
    expect(second.result.result.map((item) => item.apiKey)).toEqual([afterNext?.apiKey, third?.apiKey]);

    const listed = await roomyAdmin.listSubAccountKeys(master, SPARE.uid);
    expect(listed.map((key) => key.apiKey)).not.toContain(next?.apiKey);
    expect(listed).toHaveLength(spareKeys.length);
    expect(listed.at(-1)).toMatchObject({ id: added.id, apiKey: added.apiKey, note: 'rotation 3', status: 'permanent' });
    expect(JSON.stringify(listed)).not.toContain(added.apiSecret);
  });

  it('lists a sub-account without keys as none', async () => {
    expect(await roomyAdmin.listSubAccountKeys(master, EMPTY.uid)).toEqual([]);
    expect(await raw.getSubAccountAllApiKeys({ subMemberId: String(EMPTY.uid) })).toMatchObject({ retCode: 0, result: { result: [], nextPageCursor: '' } });
  });

  it('refuses a sub-account\'s key with 10005: the master key only', async () => {
    const denied = await rejectionOf(roomyAdmin.listSubAccountKeys(trader, MM_UID), KeyAdminError);
    expect(denied).toMatchObject({ retCode: 10005, message: 'sub-apikeys refused: 10005 Permission denied, please check your API key permissions.' });
    expect(denied.message).not.toContain(TRADER.secret);
  });

  it('refuses with 10001 a UID that is not a sub-account of the master, a limit outside 1..20, and a cursor the list did not issue', async () => {
    for (const uid of [MASTER_UID, FLOW_UID, 999_999]) {
      const refused = await rejectionOf(roomyAdmin.listSubAccountKeys(master, uid), KeyAdminError);
      expect({ uid, refused }).toMatchObject({ uid, refused: { retCode: 10001, message: 'sub-apikeys refused: 10001 params error: subMemberId: is not a sub-account of this master' } });
    }
    const cursor = (await raw.getSubAccountAllApiKeys({ subMemberId: spareUid, limit: 1 })).result.nextPageCursor;
    const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'params error: subMemberId: must be a UID (integer)'],
      [{ subMemberId: 'spare' }, 'params error: subMemberId: must be a UID (integer)'],
      [{ subMemberId: spareUid, limit: 0 }, 'params error: limit: must be between 1 and 20'],
      [{ subMemberId: spareUid, limit: 21 }, 'params error: limit: must be between 1 and 20'],
      [{ subMemberId: spareUid, limit: 1.5 }, 'params error: limit: must be an integer'],
      [{ subMemberId: spareUid, cursor: 'not-a-cursor' }, 'params error: cursor: is not a nextPageCursor of this list'],
      // What bybit-api sends for a cursor left undefined.
      [{ subMemberId: spareUid, cursor: 'undefined' }, 'params error: cursor: is not a nextPageCursor of this list'],
      // Another sub-account's list, and the same text encoded otherwise.
      [{ subMemberId: String(EMPTY.uid), cursor }, 'params error: cursor: is not a nextPageCursor of this list'],
      [{ subMemberId: spareUid, cursor: Buffer.from(decoded.replace(':', ':0')).toString('base64url') }, 'params error: cursor: is not a nextPageCursor of this list'],
      [{ subMemberId: spareUid, cursor: Buffer.from(decoded).toString('base64') + '=' }, 'params error: cursor: is not a nextPageCursor of this list'],
    ];
    for (const [params, message] of cases) {
      // The SDK passes the object through unchanged; the cast lets malformed requests reach the venue.
      const response = await raw.getSubAccountAllApiKeys(params as unknown as ListParams);
      expect({ params, retCode: response.retCode, retMsg: response.retMsg, result: response.result }).toEqual({ params, retCode: 10001, retMsg: message, result: {} });
    }
  });

  it('allows 10 listings a second per UID (Bybit\'s User table); the 11th gets 10006', async () => {
    // The default venue, unused by the listing tests above.
    const client = new RestClientV5({ key: MASTER.key, secret: MASTER.secret, baseUrl: sim.restUrl, parseAPIRateLimits: true });
    const answers = await Promise.all(Array.from({ length: 10 }, () => client.getSubAccountAllApiKeys({ subMemberId: String(MM_UID) })));
    expect(answers.map((answer) => answer.retCode)).toEqual(Array.from({ length: 10 }, () => 0));
    expect(answers[0]?.rateLimitApi).toMatchObject({ maxRequests: 10 });
    const limited = await rejectionOf(admin.listSubAccountKeys(master, MM_UID), KeyAdminError);
    expect(limited).toMatchObject({ retCode: 10006, message: 'sub-apikeys refused: 10006 Too many visits!' });
  });

  it('stops with an error, not a loop, when the venue hands back a cursor it gave before', async () => {
    const requests: string[] = [];
    const samePage: RequestListener = (request: IncomingMessage, response) => {
      requests.push(request.url ?? '');
      response.writeHead(200, { 'content-type': 'application/json' });
      const item = { id: '1', ips: ['*'], apiKey: 'LOOPKEY', note: 'loop', status: 3, expiredAt: '2030-01-01T00:00:00Z', createdAt: '2029-10-03T00:00:00Z', type: 1, permissions: TRADE, secret: '******', readOnly: false, deadlineDay: 90, flag: 'hmac' };
      response.end(JSON.stringify({ retCode: 0, retMsg: '', result: { result: [item], nextPageCursor: 'again' }, retExtInfo: {}, time: Date.now() }));
    };
    await withFakeVenue(samePage, async (looping) => {
      const stopped = await rejectionOf(looping.listSubAccountKeys(master, SPARE.uid), KeyAdminError);
      expect(stopped).toMatchObject({ retCode: undefined, message: 'sub-apikeys returned a page cursor it had returned before, after 2 keys; paging stopped' });
    });
    // Pages of 20; no cursor on the first request (bybit-api would send an undefined one as "undefined").
    expect(requests).toEqual([`/v5/user/sub-apikeys?subMemberId=${SPARE.uid}&limit=20`, `/v5/user/sub-apikeys?subMemberId=${SPARE.uid}&limit=20&cursor=again`]);
  });

  it('a venue that does not answer is a transport failure, without a code', async () => {
    const gone = new BybitKeyAdmin({ restUrl: 'http://127.0.0.1:9', recvWindowMs: 5000 });
    const failed = await rejectionOf(gone.listSubAccountKeys(master, SPARE.uid), KeyAdminError);
    expect(failed).toMatchObject({ retCode: undefined, message: expect.stringMatching(/^sub-apikeys failed: /) });
  });
});
