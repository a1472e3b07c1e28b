/**
 * Bybit API-key management, as the key rotation needs it (sim/reference/bybit-v5-rest.md §6):
 *   - describe the calling key: GET /v5/user/query-api (any key; the secret is never returned);
 *   - list a sub-account's keys, e.g. to find one by its note: GET /v5/user/sub-apikeys (the master key
 *     only; expired keys included, secrets masked), paged by cursor until the last page;
 *   - create a key for a sub-account: POST /v5/user/create-sub-api (the master key only; the new key's
 *     secret is in this one answer and can never be read again);
 *   - delete a sub-account's key: POST /v5/user/delete-sub-api with `apikey` (the master key; the key is
 *     invalid at once).
 * Answers are validated with zod (bybit-api's declared types are not trusted: its sub-apikeys item type is
 * query-api's); failures carry Bybit's retCode and retMsg, never a key or a secret.
 */
import { RestClientV5 } from 'bybit-api';
import * as z from 'zod';
import { describeThrown } from './account.js';

export interface KeyCredentials {
  readonly apiKey: string;
  readonly apiSecret: string;
}

/** Permission groups and their grants, as Bybit names them (`ContractTrade: ['Order', 'Position']`). */
export type KeyPermissions = Readonly<Record<string, readonly string[]>>;

const Permissions = z.record(z.string(), z.array(z.string()));

const DescribedKey = z.looseObject({
  id: z.string().min(1),
  note: z.string(),
  apiKey: z.string().min(1),
  readOnly: z.union([z.literal(0), z.literal(1)]),
  permissions: Permissions,
  ips: z.array(z.string()),
  userID: z.number().int(),
  isMaster: z.boolean(),
  parentUid: z.string(),
  /** Days left; only for keys bound to no IP (Bybit: -2 and 1970 for the others). */
  deadlineDay: z.number().int(),
  expiredAt: z.string(),
});

/** sub-apikeys `status`: 1 permanent (bound to IPs), 2 expired, 3 valid, 4 fewer than 7 days left. */
const LISTED_STATUS = { 1: 'permanent', 2: 'expired', 3: 'valid', 4: 'expiring' } as const;

/** An item of sub-apikeys; unlike query-api's, `readOnly` is a boolean and `secret` is always "******". */
const ListedKey = z.looseObject({
  id: z.string().min(1),
  apiKey: z.string().min(1),
  note: z.string(),
  readOnly: z.boolean(),
  ips: z.array(z.string()),
  status: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]),
  deadlineDay: z.number().int(),
  expiredAt: z.string(),
  createdAt: z.string(),
});

/** sub-apikeys' `result`: the page's keys in a nested `result`, and the next page's cursor ("" on the last). */
const KeyPage = z.looseObject({
  result: z.array(ListedKey),
  nextPageCursor: z.string(),
});

/** Keys per sub-apikeys page: Bybit's maximum. */
const PAGE_SIZE = 20;

const CreatedKey = z.looseObject({
  id: z.string().min(1),
  apiKey: z.string().min(1),
  secret: z.string().min(1),
});

export interface KeyDescription {
  readonly id: string;
  readonly note: string;
  readonly apiKey: string;
  readonly readOnly: boolean;
  /** Groups with at least one grant (Bybit lists every group, most of them empty). */
  readonly permissions: KeyPermissions;
  /** Bound IPs; `['*']` is bound to none. */
  readonly ips: readonly string[];
  readonly uid: number;
  readonly isMaster: boolean;
  /** The master's UID for a sub-account's key; undefined for a master's key. */
  readonly parentUid: number | undefined;
  /** When a key bound to no IP stops working; undefined for a bound key. */
  readonly expiresAt: string | undefined;
}

/** A key of a sub-account as the master lists it; its secret is never given. */
export interface SubAccountKey {
  readonly id: string;
  readonly apiKey: string;
  readonly note: string;
  readonly readOnly: boolean;
  /** Bound IPs; `['*']` is bound to none. */
  readonly ips: readonly string[];
  /** `expired` keys are still listed until deleted; `expiring` has fewer than 7 days left. */
  readonly status: 'permanent' | 'expired' | 'valid' | 'expiring';
  /** When a key bound to no IP stops (or stopped) working; undefined for a bound key. */
  readonly expiresAt: string | undefined;
  readonly createdAt: string;
}

export interface NewKeyRequest {
  readonly subUid: number;
  readonly readOnly: boolean;
  readonly permissions: KeyPermissions;
  /** IPs to bind; none (or `*`) leaves the key unbound, and Bybit then expires it after 90 days. */
  readonly ips: readonly string[];
  /** Free text kept with the key at Bybit. */
  readonly note: string;
}

export interface NewKey {
  readonly id: string;
  readonly apiKey: string;
  /** Returned once, by this call only. */
  readonly apiSecret: string;
}

export class KeyAdminError extends Error {
  override readonly name = 'KeyAdminError';
  constructor(
    message: string,
    /** Bybit's retCode; undefined when no answer came (transport) or the answer was malformed. */
    readonly retCode: number | undefined,
  ) {
    super(message);
  }
}

/** Bybit: 10003 invalid key, 10004 bad signature, 33004 key expired: the key itself is refused. */
export const KEY_REFUSED_CODES: readonly number[] = [10003, 10004, 33004];

export interface BybitKeyAdminOptions {
  readonly restUrl: string;
  readonly recvWindowMs: number;
}

interface Envelope {
  readonly retCode: number;
  readonly retMsg: string;
  readonly result: unknown;
}

export class BybitKeyAdmin {
  constructor(private readonly options: BybitKeyAdminOptions) {}

  private client(credentials: KeyCredentials): RestClientV5 {
    return new RestClientV5({ key: credentials.apiKey, secret: credentials.apiSecret, baseUrl: this.options.restUrl, recv_window: this.options.recvWindowMs });
  }

  /** The key these credentials are (a rotation tests the new key with it, and copies the old one's grants). */
  async describe(credentials: KeyCredentials): Promise<KeyDescription> {
    const result = parse('query-api', DescribedKey, await call('query-api', () => this.client(credentials).getQueryApiKey()));
    const parent = Number(result.parentUid);
    return {
      id: result.id,
      note: result.note,
      apiKey: result.apiKey,
      readOnly: result.readOnly === 1,
      permissions: Object.fromEntries(Object.entries(result.permissions).filter(([, grants]) => grants.length > 0)),
      ips: result.ips,
      uid: result.userID,
      isMaster: result.isMaster,
      parentUid: result.isMaster || !Number.isInteger(parent) || parent <= 0 ? undefined : parent,
      expiresAt: result.deadlineDay >= 0 ? result.expiredAt : undefined,
    };
  }

  /**
   * Every key of a sub-account, expired ones included, with the master key: page after page (cursor) until
   * the last. A venue that hands back a cursor it gave before is refused rather than paged forever.
   */
  async listSubAccountKeys(master: KeyCredentials, subUid: number): Promise<SubAccountKey[]> {
    const client = this.client(master);
    const listed: SubAccountKey[] = [];
    const cursors = new Set<string>();
    let cursor: string | undefined;
    for (;;) {
      // No cursor on the first page: bybit-api would send an undefined one as the text "undefined".
      const params = { subMemberId: String(subUid), limit: PAGE_SIZE, ...(cursor !== undefined && { cursor }) };
      const page = parse('sub-apikeys', KeyPage, await call('sub-apikeys', () => client.getSubAccountAllApiKeys(params)));
      for (const key of page.result) {
        listed.push({
          id: key.id,
          apiKey: key.apiKey,
          note: key.note,
          readOnly: key.readOnly,
          ips: key.ips,
          status: LISTED_STATUS[key.status],
          expiresAt: key.deadlineDay >= 0 ? key.expiredAt : undefined,
          createdAt: key.createdAt,
        });
      }
      if (page.nextPageCursor === '') return listed;
      if (cursors.has(page.nextPageCursor)) throw new KeyAdminError(`sub-apikeys returned a page cursor it had returned before, after ${listed.length} keys; paging stopped`, undefined);
      cursors.add(page.nextPageCursor);
      cursor = page.nextPageCursor;
    }
  }

  /** Creates a key for a sub-account, with the master key. */
  async createSubAccountKey(master: KeyCredentials, request: NewKeyRequest): Promise<NewKey> {
    const ips = request.ips.filter((ip) => ip !== '*');
    const params = {
      subuid: request.subUid,
      note: request.note,
      readOnly: request.readOnly ? (1 as const) : (0 as const),
      permissions: Object.fromEntries(Object.entries(request.permissions).map(([group, grants]) => [group, [...grants]])),
      ...(ips.length > 0 && { ips: ips.join(',') }),
    };
    const result = parse('create-sub-api', CreatedKey, await call('create-sub-api', () => this.client(master).createSubUIDAPIKey(params)));
    return { id: result.id, apiKey: result.apiKey, apiSecret: result.secret };
  }

  /** Deletes a sub-account's key, with the master key; it is invalid at once. */
  async deleteSubAccountKey(master: KeyCredentials, apiKey: string): Promise<void> {
    await call('delete-sub-api', () => this.client(master).deleteSubApiKey({ apikey: apiKey }));
  }
}

async function call(what: string, work: () => Promise<Envelope>): Promise<unknown> {
  let answer: Envelope;
  try {
    answer = await work();
  } catch (thrown) {
    // No answer from the venue (bybit-api rejects with a string or an HTTP error object).
    throw new KeyAdminError(`${what} failed: ${describeThrown(thrown)}`, undefined);
  }
  if (answer.retCode !== 0) throw new KeyAdminError(`${what} refused: ${answer.retCode} ${answer.retMsg}`, answer.retCode);
  return answer.result;
}

function parse<T>(what: string, schema: z.ZodType<T>, result: unknown): T {
  const parsed = schema.safeParse(result);
  if (parsed.success) return parsed.data;
  // Field names only: the answer may hold a secret.
  throw new KeyAdminError(`${what} answered in an unexpected shape: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}`, undefined);
}
