/**
 * The key-management adapter the rotation will use (src/adapters/bybit/key-admin.ts), over the real
 * bybit-api client and HTTP against the simulator: a new key for the trading sub-account with the current
 * key's grants and IPs works at once and is described as such; deleted, it is refused at once; refusals
 * carry Bybit's code and never a key or a secret.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BybitKeyAdmin, KEY_REFUSED_CODES, KeyAdminError } from '../../src/adapters/bybit/key-admin.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
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
    const server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ retCode: 0, retMsg: 'OK', result: { apiKey: 'LEAKEDKEY', secret: 'leaked-secret' }, time: Date.now() }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const odd = new BybitKeyAdmin({ restUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, recvWindowMs: 5000 });
      const created = await rejectionOf(odd.createSubAccountKey(master, { subUid: 1, readOnly: false, permissions: { ContractTrade: ['Order'] }, ips: [], note: '' }), KeyAdminError);
      expect(created.message).toMatch(/^create-sub-api answered in an unexpected shape: id: /);
      const described = await rejectionOf(odd.describe(trader), KeyAdminError);
      expect(described.message).toMatch(/^query-api answered in an unexpected shape: /);
      for (const error of [created, described]) expect(error.message).not.toMatch(/LEAKEDKEY|leaked-secret/);
    } finally {
      server.close();
    }
  });
});
