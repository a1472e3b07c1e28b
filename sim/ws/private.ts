/**
 * The private stream (/v5/private): auth, then order, execution, execution.fast, position and wallet pushes
 * for the key's account, and disconnect-cancel-all (DCP). Shapes: sim/reference/bybit-v5-websocket.md §2, §5.
 *
 * DCP (docs/v5/websocket/private/dcp.mdx, docs/v5/order/dcp.mdx): only private connections subscribed to
 * dcp.future (product DERIVATIVES; dcp.spot SPOT, dcp.option OPTIONS) count. When the last of them for an
 * account is gone and none comes back within the account's timeWindow, every open order of the account
 * is cancelled with cancelType CancelByDCP. "Gone" is a closed connection (the simulator's choice; Bybit
 * leaves a silent-but-open connection unspecified). An account that never set DCP is never cancelled.
 */
import { formatPrice, formatQty, lotsToQty } from '../../src/core/instrument.js';
import { hmacHex, safeEqualHex } from '../http/auth.js';
import { averageEntryPrice } from '../../src/core/position.js';
import type { SimExecution, SimOrder } from '../exchange/exchange.js';
import { type VenueState, walletJson } from '../http/routes.js';
import { executionJson, orderJson, positionJson } from '../venue/format.js';
import type { KeyStore } from '../venue/keys.js';
import type { Random } from '../random.js';
import { type WsClient, requestId } from './client.js';

export interface PrivateFaults {
  /** Probability that an execution message is sent twice. */
  wsDuplicateExecutionRate: number;
  /** Execution messages are held back this long, so order messages overtake them. */
  wsExecutionDelayMs: number;
}

const ALL_IN_ONE = new Set(['order', 'execution', 'execution.fast', 'position', 'wallet']);
const CATEGORISED = new Set(['order.linear', 'execution.linear', 'execution.fast.linear', 'position.linear']);
const DCP_TOPICS: Readonly<Record<string, string>> = { 'dcp.future': 'DERIVATIVES', 'dcp.spot': 'SPOT', 'dcp.option': 'OPTIONS' };

/** Bybit's WebSocket auth signature: hex HMAC-SHA256 of "GET/realtime" + expires. */
export function verifyWsSignature(secret: string, expires: number, signature: string): boolean {
  return safeEqualHex(hmacHex(secret, `GET/realtime${expires}`), signature.toLowerCase());
}

/** Checks an auth frame's args: [apiKey, expires, signature]. */
export function checkAuthArgs(args: unknown, keys: KeyStore, now: number): { ok: true; key: NonNullable<WsClient['key']> } | { ok: false; reason: 'params' | 'key' | 'sign' } {
  if (!Array.isArray(args) || args.length !== 3) return { ok: false, reason: 'params' };
  const [apiKey, rawExpires, signature] = args as unknown[];
  const expires = typeof rawExpires === 'string' ? Number(rawExpires) : rawExpires;
  if (typeof apiKey !== 'string' || typeof signature !== 'string' || typeof expires !== 'number' || !Number.isFinite(expires)) return { ok: false, reason: 'params' };
  // Bybit: expires must be later than the server's time.
  if (expires <= now) return { ok: false, reason: 'params' };
  const found = keys.lookup(apiKey, now);
  if (found.status !== 'ok') return { ok: false, reason: 'key' };
  if (!verifyWsSignature(found.key.secret, expires, signature)) return { ok: false, reason: 'sign' };
  return { ok: true, key: found.key };
}

export class PrivateFeed {
  private readonly byAccount = new Map<string, Set<WsClient>>();
  /** Live private connections subscribed to a DCP topic, per account and product. */
  private readonly dcpConnections = new Map<string, Set<WsClient>>();
  private readonly dcpTimers = new Map<string, NodeJS.Timeout>();
  private messageSeq = 0;

  constructor(
    private readonly state: VenueState,
    private readonly keys: KeyStore,
    private readonly clock: () => number,
    private readonly faults: PrivateFaults,
    private readonly random: Random,
    private readonly uidOf: (accountId: string) => number,
  ) {}

  handle(client: WsClient, frame: Record<string, unknown>): void {
    const reqId = requestId(frame, 'req_id');
    const ack = (op: string, success: boolean, retMsg: string) =>
      client.send({ ...(reqId !== undefined && { req_id: reqId }), success, ret_msg: retMsg, op, conn_id: client.connId });
    switch (frame.op) {
      case 'ping':
        client.send({ req_id: reqId ?? '', op: 'pong', args: [String(this.clock())], conn_id: client.connId });
        return;
      case 'auth': {
        const checked = checkAuthArgs(frame.args, this.keys, this.clock());
        if (!checked.ok) {
          ack('auth', false, checked.reason === 'params' ? 'Params Error' : checked.reason === 'key' ? 'API key is invalid.' : 'Invalid sign');
          return;
        }
        // A repeated auth on one socket is tolerated: the socket stays authenticated for the key.
        client.key = checked.key;
        let clients = this.byAccount.get(checked.key.accountId);
        if (!clients) this.byAccount.set(checked.key.accountId, (clients = new Set()));
        clients.add(client);
        ack('auth', true, '');
        return;
      }
      case 'subscribe':
      case 'unsubscribe': {
        const topics = Array.isArray(frame.args) ? frame.args.filter((topic): topic is string => typeof topic === 'string') : [];
        const unknown = topics.find((topic) => !ALL_IN_ONE.has(topic) && !CATEGORISED.has(topic) && !(topic in DCP_TOPICS));
        const refusal = !client.key
          ? 'Request not authorized'
          : unknown !== undefined || topics.length === 0
            ? `error:handler not found,topic:${unknown ?? ''}`
            : topics.some((topic) => ALL_IN_ONE.has(topic)) && topics.some((topic) => CATEGORISED.has(topic))
              ? 'error:all-in-one and categorised topics cannot be in one request'
              : undefined;
        if (refusal !== undefined) {
          ack(frame.op, false, refusal);
          return;
        }
        for (const topic of topics) {
          if (frame.op === 'subscribe') client.topics.add(topic);
          else client.topics.delete(topic);
        }
        this.updateDcp(client);
        ack(frame.op, true, '');
        return;
      }
      default:
        ack(typeof frame.op === 'string' ? frame.op : '', false, 'error:invalid op');
    }
  }

  /** A connection closed: stop pushing to it, and start DCP timers it was holding off. */
  remove(client: WsClient): void {
    const accountId = client.key?.accountId;
    if (accountId === undefined) return;
    this.byAccount.get(accountId)?.delete(client);
    client.topics.clear();
    this.updateDcp(client);
  }

  close(): void {
    for (const timer of this.dcpTimers.values()) clearTimeout(timer);
    this.dcpTimers.clear();
  }

  private updateDcp(client: WsClient): void {
    const accountId = client.key?.accountId;
    if (accountId === undefined) return;
    for (const [topic, product] of Object.entries(DCP_TOPICS)) {
      const id = `${accountId}:${product}`;
      let holders = this.dcpConnections.get(id);
      if (!holders) this.dcpConnections.set(id, (holders = new Set()));
      const wasHeld = holders.size > 0;
      if (client.topics.has(topic) && client.open) holders.add(client);
      else holders.delete(client);
      if (holders.size > 0) {
        // Reconnected in time: the timer resets.
        const timer = this.dcpTimers.get(id);
        if (timer) clearTimeout(timer);
        this.dcpTimers.delete(id);
      } else if (wasHeld) {
        this.armDcp(accountId, product, id);
      }
    }
  }

  private armDcp(accountId: string, product: string, id: string): void {
    const setting = this.state.dcp.get(accountId);
    // bybit-api's V1 setter sends no product (Bybit's default OPTIONS); the simulator trades linear only, so
    // any configured window applies to its derivatives.
    if (!setting || product !== 'DERIVATIVES') return;
    this.dcpTimers.set(
      id,
      setTimeout(() => {
        this.dcpTimers.delete(id);
        this.state.exchange.cancelAll(accountId, undefined, 'CancelByDCP');
      }, setting.timeWindow * 1_000),
    );
  }

  // ---- pushes from the exchange ----

  private subscribers(accountId: string, topics: readonly string[]): [WsClient, string][] {
    const clients = this.byAccount.get(accountId);
    if (!clients) return [];
    const result: [WsClient, string][] = [];
    const now = this.clock();
    for (const client of clients) {
      // A key deleted or expired since the socket authenticated gets nothing more.
      if (!client.key || this.keys.lookup(client.key.apiKey, now).status !== 'ok') continue;
      const topic = topics.find((candidate) => client.topics.has(candidate));
      if (topic !== undefined) result.push([client, topic]);
    }
    return result;
  }

  private uid(accountId: string): number {
    return this.uidOf(accountId);
  }

  order(order: Readonly<SimOrder>): void {
    const targets = this.subscribers(order.accountId, ['order', 'order.linear']);
    if (targets.length === 0) return;
    const instrument = this.state.exchange.instrument(order.symbol);
    if (!instrument) return;
    const data = [{ category: 'linear', ...orderJson(order, instrument), closedPnl: '0', feeCurrency: '', cumFeeDetail: {}, rpiTakerAccess: false, rpiMatchedQty: '0' }];
    const now = this.clock();
    for (const [client, topic] of targets) client.send({ topic, id: `${this.uid(order.accountId)}_${order.symbol}_${(this.messageSeq += 1)}`, creationTime: now, data });
  }

  execution(execution: SimExecution): void {
    const instrument = this.state.exchange.instrument(execution.symbol);
    if (!instrument) return;
    const now = this.clock();
    const full = this.subscribers(execution.accountId, ['execution', 'execution.linear']);
    if (full.length > 0) {
      const data = [{ category: 'linear', ...executionJson(execution, instrument), execPnl: '0' }];
      const id = `${this.uid(execution.accountId)}_${execution.symbol}_${execution.seq}`;
      const deliver = () => {
        for (const [client, topic] of full) {
          const message = { topic, id, creationTime: now, data };
          client.send(message);
          if (this.faults.wsDuplicateExecutionRate > 0 && this.random() < this.faults.wsDuplicateExecutionRate) client.send(message);
        }
      };
      if (this.faults.wsExecutionDelayMs > 0) setTimeout(deliver, this.faults.wsExecutionDelayMs);
      else deliver();
    }
    for (const [client, topic] of this.subscribers(execution.accountId, ['execution.fast', 'execution.fast.linear'])) {
      client.send({
        topic,
        creationTime: now,
        data: [
          {
            category: 'linear',
            symbol: execution.symbol,
            execId: execution.execId,
            execPrice: formatPrice(instrument, execution.execPriceTicks),
            execQty: formatQty(instrument, execution.execQtyLots),
            orderId: execution.orderId,
            isMaker: execution.isMaker,
            // Bybit: always empty for maker trades on this topic.
            orderLinkId: execution.isMaker ? '' : execution.orderLinkId,
            side: execution.side,
            execTime: String(execution.execTime),
            seq: execution.seq,
          },
        ],
      });
    }
  }

  position(accountId: string, symbol: string): void {
    const targets = this.subscribers(accountId, ['position', 'position.linear']);
    const instrument = this.state.exchange.instrument(symbol);
    if (targets.length === 0 || !instrument) return;
    const held = this.state.exchange.position(accountId, symbol);
    const { avgPrice: _rest, ...fields } = positionJson(this.state.exchange, held, instrument);
    const entry = averageEntryPrice(held.position, instrument);
    const size = held.position.sizeLots < 0n ? -held.position.sizeLots : held.position.sizeLots;
    const data = [
      {
        category: 'linear',
        ...fields,
        entryPrice: entry ? entry.round(8).toFixed() : '0',
        breakEvenPrice: '',
        positionIMByMp: '0',
        positionMMByMp: '0',
        openTime: size === 0n ? 0 : held.updatedTime,
        size: lotsToQty(instrument, size).toFixed(instrument.qtyDecimals),
      },
    ];
    const now = this.clock();
    for (const [client, topic] of targets) client.send({ id: `${this.uid(accountId)}_position_${now}`, topic, creationTime: now, data });
  }

  wallet(accountId: string): void {
    const targets = this.subscribers(accountId, ['wallet']);
    if (targets.length === 0) return;
    const now = this.clock();
    const data = [walletJson(this.state, accountId)];
    for (const [client, topic] of targets) client.send({ id: `${this.uid(accountId)}_wallet_${now}`, topic, creationTime: now, data });
  }
}
