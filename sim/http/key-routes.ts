/**
 * Bybit v5 API-key management: POST /v5/user/create-sub-api, update-api, update-sub-api, delete-api and
 * delete-sub-api, and GET /v5/user/sub-apikeys (a sub-account's keys, paged). Who may call what, the
 * parameters and the result shapes follow sim/reference/bybit-v5-rest.md §6; the per-second limits §2.2; the
 * behaviours Bybit leaves open §9 rows 20 (misuse → 10001, non-master → 10005), 21 (a key bound to no IP
 * expires 90 days after creation) and 23–27 (sub-apikeys: callers, parameters, cursor, order, status).
 *
 * The routes are `access: 'read'` so that any valid key reaches the handler; the master-only rules are
 * enforced here, because the REST front only knows read and trade permissions.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import * as z from 'zod';
import { type Failure, type Outcome, RET, failure, success } from '../exchange/errors.js';
import type { ApiKeyRecord, KeyStore, Permissions } from '../venue/keys.js';
import { fail, okUser, parse } from './reply.js';
import type { Route, RouteContext } from './routes.js';

export interface Credentials {
  readonly apiKey: string;
  readonly secret: string;
}

export interface KeyRouteDeps {
  readonly keys: KeyStore;
  /** UID of an account in the venue's registry. */
  readonly uidOf: (accountId: string) => number;
  /** The account with this UID; undefined when there is none. */
  readonly accountOfUid: (uid: number) => string | undefined;
  /** The master UID of a sub-account; undefined for a master or unknown UID. */
  readonly parentOf: (uid: number) => number | undefined;
  /**
   * The venue's clock, ms. It must be the clock requests are authenticated against, so that a new key's
   * 90-day expiry is measured on the same time line as the expiry check.
   */
  readonly clock: () => number;
  /** Credentials for a new key: randomCredentials() in a venue; a fixed sequence if a test needs one. */
  readonly newCredentials: () => Credentials;
}

/** Bybit-style credentials: an 18-character key and a 36-character secret, both alphanumeric. */
export function randomCredentials(): Credentials {
  return { apiKey: randomAlphanumeric(18), secret: randomAlphanumeric(36) };
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length)) {
      // 248 = 4 × 62: dropping the top bytes keeps every character equally likely.
      if (byte < 248 && out.length < length) out += ALPHANUMERIC.charAt(byte % ALPHANUMERIC.length);
    }
  }
  return out;
}

/** Error code Bybit lists for IP-whitelist changes over the API (docs/v5/error.mdx), §6.1. */
export const IP_WHITELIST_VIA_API = 141019;

const PERMISSION_DENIED = failure(RET.permissionDenied, 'Permission denied, please check your API key permissions.');

// ---- parameters ----

/**
 * Permission types with the values Bybit documents for them. The docs' lists differ between the create
 * and modify pages and across revisions (e.g. SubMemberTransfer vs SubMemberTransferList); this is their
 * union, so a request valid on any page passes and a misspelt value is refused instead of silently granting
 * nothing.
 */
const grant = <const T extends readonly [string, ...string[]]>(values: T) => z.array(z.enum(values)).optional();
const PermissionsParam = z
  .strictObject({
    ContractTrade: grant(['Order', 'Position']),
    Spot: grant(['SpotTrade']),
    Wallet: grant(['AccountTransfer', 'SubMemberTransfer', 'SubMemberTransferList']),
    Options: grant(['OptionsTrade']),
    Derivatives: grant(['DerivativesTrade']),
    CopyTrading: grant(['CopyTrading']),
    BlockTrade: grant(['BlockTrade']),
    Exchange: grant(['ExchangeHistory']),
    NFT: grant(['NFTQueryProductList']),
    Earn: grant(['Earn']),
  })
  // Bybit: "one of below types must be passed, otherwise the error is thrown" (§6.3).
  .refine((granted) => Object.values(granted).some((values) => values !== undefined && values.length > 0), {
    message: 'at least one permission must be granted',
  });
type GrantedPermissions = z.infer<typeof PermissionsParam>;

/** The permission types every result lists, empty when not granted (as in the docs' examples). */
const PERMISSION_TYPES = ['ContractTrade', 'Spot', 'Wallet', 'Options', 'Derivatives', 'CopyTrading', 'BlockTrade', 'Exchange', 'NFT', 'Earn'] as const;

const ReadOnlyParam = z
  .union([z.literal(0), z.literal(1), z.literal('0'), z.literal('1')], { message: 'must be 0 (read-write) or 1 (read-only)' })
  .transform((value) => Number(value) === 1);

/**
 * `"a,b"`, `"*"`, or an array: bybit-api types ips as a string for create and as string[] elsewhere, and
 * the modify docs show `["a,b"]`, so array items are joined before splitting. "*" means no binding.
 */
const IpsParam = z
  .union([z.string(), z.array(z.string())], { message: 'must be a comma-separated string or an array of IP addresses' })
  .transform((value) => [...new Set((Array.isArray(value) ? value.join(',') : value).split(',').map((ip) => ip.trim()))])
  .refine((ips) => (ips.length === 1 && ips[0] === '*') || ips.every((ip) => isIP(ip) !== 0), { message: 'must be "*" or IP addresses separated by commas' });

const UidParam = z.union([z.number().int().positive(), z.string().regex(/^[1-9]\d*$/).transform(Number)], { message: 'must be a UID (integer)' });

const ApiKeyParam = z.string().min(1, { message: 'must be a non-empty API key' });

/** The update docs' own example sends `"readOnly": null`; null means "leave unchanged", like absence. */
const unchangedIfNull = <T extends z.ZodType>(schema: T) => schema.nullish().transform((value) => value ?? undefined);

const CreateSubApiParams = z.looseObject({
  subuid: UidParam,
  note: z.string().optional(),
  readOnly: ReadOnlyParam,
  ips: IpsParam.optional(),
  permissions: PermissionsParam,
});

const UpdateApiParams = z.looseObject({
  // bybit-api's UpdateApiKeyParamsV5 carries an optional apikey; update-api acts on the calling key only.
  apikey: ApiKeyParam.optional(),
  readOnly: unchangedIfNull(ReadOnlyParam),
  permissions: unchangedIfNull(PermissionsParam),
});

const UpdateSubApiParams = z.looseObject({
  apikey: ApiKeyParam.optional(),
  readOnly: unchangedIfNull(ReadOnlyParam),
  ips: unchangedIfNull(IpsParam),
  permissions: unchangedIfNull(PermissionsParam),
});

const DeleteSubApiParams = z.looseObject({ apikey: ApiKeyParam.optional() });

/** GET parameters arrive as strings. */
const SubApiKeysParams = z.looseObject({
  subMemberId: UidParam,
  limit: z
    .string()
    .regex(/^\d+$/, { message: 'must be an integer' })
    .transform(Number)
    .refine((limit) => limit >= 1 && limit <= 20, { message: 'must be between 1 and 20' })
    .optional(),
  cursor: z.string().optional(),
});

// ---- replies ----

function paramError(field: string, message: string): Failure {
  return failure(RET.paramError, `params error: ${field}: ${message}`);
}

function callerOf(context: RouteContext): ApiKeyRecord {
  if (!context.key) throw new Error('key route without a key');
  return context.key;
}

/** Every documented type, empty unless granted; duplicates dropped. */
function storedPermissions(granted: GrantedPermissions): Permissions {
  return Object.fromEntries(PERMISSION_TYPES.map((type) => [type, [...new Set(granted[type] ?? [])]]));
}

function permissionsJson(permissions: Permissions): Permissions {
  return { ...Object.fromEntries(PERMISSION_TYPES.map((type) => [type, []])), ...permissions };
}

/** The IP binding as results show it: `["*"]` for none. */
export function ipsJson(key: ApiKeyRecord): readonly string[] {
  return key.ips.length === 0 ? ['*'] : key.ips;
}

const DAY_MS = 86_400_000;

/**
 * `deadlineDay` and `expiredAt` of query-api and sub-apikeys: days left (0 once expired) and the expiry; an
 * IP-bound key does not expire: Bybit reports -2 and the epoch (reference §6.4, §9 row 21).
 */
export function expiryJson(key: ApiKeyRecord, now: number): { readonly deadlineDay: number; readonly expiredAt: string } {
  return {
    deadlineDay: key.expiresAt === undefined ? -2 : Math.max(0, Math.ceil((key.expiresAt - now) / DAY_MS)),
    expiredAt: new Date(key.expiresAt ?? 0).toISOString().replace('.000Z', 'Z'),
  };
}

/** The update endpoints' result: the create shape with `secret: ""` and the IP binding (§6.3). */
function updatedJson(key: ApiKeyRecord): Record<string, unknown> {
  return {
    id: String(key.id),
    note: key.note,
    apiKey: key.apiKey,
    readOnly: key.readOnly ? 1 : 0,
    secret: '',
    permissions: permissionsJson(key.permissions),
    ips: ipsJson(key),
  };
}

/**
 * sub-apikeys `status` (§6.5): 1 permanent (bound to IPs), 2 expired (from the instant requests get 33004),
 * 4 expires soon (under 7 days left), 3 otherwise (§9 row 27).
 */
function statusOf(key: ApiKeyRecord, now: number): 1 | 2 | 3 | 4 {
  if (key.expiresAt === undefined) return 1;
  const left = key.expiresAt - now;
  return left <= 0 ? 2 : left < 7 * DAY_MS ? 4 : 3;
}

/** One item of sub-apikeys' list (§6.5): the secret masked, `readOnly` a boolean here. */
function listedJson(key: ApiKeyRecord, now: number): Record<string, unknown> {
  const { deadlineDay, expiredAt } = expiryJson(key, now);
  return {
    id: String(key.id),
    ips: ipsJson(key),
    apiKey: key.apiKey,
    note: key.note,
    status: statusOf(key, now),
    expiredAt,
    createdAt: new Date(key.createdAt).toISOString(),
    // The simulator has personal HMAC keys only (§9 row 26).
    type: 1,
    permissions: permissionsJson(key.permissions),
    secret: '******',
    readOnly: key.readOnly,
    deadlineDay,
    flag: 'hmac',
  };
}

/**
 * sub-apikeys' nextPageCursor (§9 row 25): the sub UID and the id of the next page's first key, base64url.
 * Keys are listed by id, so a page starts at that id whatever was created or deleted in between.
 */
function subApiKeysCursor(subUid: number, fromId: number): string {
  return Buffer.from(`${subUid}:${fromId}`).toString('base64url');
}

/** The id a page starts at: 0 (the first page) without a cursor; 10001 for a cursor this list did not issue. */
function pageStartOf(cursor: string | undefined, subUid: number): Outcome<number> {
  if (cursor === undefined || cursor === '') return success(0);
  const fromId = Number(/^\d+:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))?.[1]);
  // Re-encoding refuses garbage, other encodings of the same text and another sub-account's cursor alike.
  return Number.isSafeInteger(fromId) && subApiKeysCursor(subUid, fromId) === cursor ? success(fromId) : paramError('cursor', 'is not a nextPageCursor of this list');
}

// ---- routes ----

export function buildKeyRoutes(deps: KeyRouteDeps): Route[] {
  const { keys } = deps;
  // Ownership is judged on the venue's account tree, not on the uid/parentUid copies in key records.
  const uidOfKey = (key: ApiKeyRecord): number => deps.uidOf(key.accountId);
  const isSubKeyOf = (target: ApiKeyRecord, master: ApiKeyRecord): boolean => !target.isMaster && deps.parentOf(uidOfKey(target)) === uidOfKey(master);
  const isSubKey = (key: ApiKeyRecord): boolean => !key.isMaster && deps.parentOf(uidOfKey(key)) !== undefined;

  /**
   * The key update-sub-api and delete-sub-api act on (§6.1): a master names one of its sub-accounts' keys
   * with `apikey`; a sub key acts on itself and must not pass `apikey`. Misuse is 10001 (§9 row 20).
   */
  const subjectOf = (caller: ApiKeyRecord, apikey: string | undefined): Outcome<ApiKeyRecord> => {
    if (!caller.isMaster) return apikey === undefined ? success(caller) : paramError('apikey', 'must not be passed by a sub-account key, which acts on itself');
    if (apikey === undefined) return paramError('apikey', 'is required when a master key calls');
    const target = keys.find(apikey);
    // One answer for unknown keys and other masters' keys, so a caller cannot probe for either.
    return target && isSubKeyOf(target, caller) ? success(target) : paramError('apikey', 'is not a key of a sub-account of this master');
  };

  /** The venue account of `uid` when it is a sub-account of the calling master; `field` names the parameter refused. */
  const subAccountOf = (master: ApiKeyRecord, uid: number, field: string): Outcome<string> => {
    const accountId = deps.accountOfUid(uid);
    return accountId !== undefined && deps.parentOf(uid) === uidOfKey(master) ? success(accountId) : paramError(field, 'is not a sub-account of this master');
  };

  const modify = (key: ApiKeyRecord, change: { readonly readOnly?: boolean | undefined; readonly permissions?: GrantedPermissions | undefined; readonly ips?: readonly string[] | undefined }): ApiKeyRecord => {
    let updated = keys.update(key.apiKey, {
      ...(change.readOnly !== undefined && { readOnly: change.readOnly }),
      // A permissions object replaces the whole set: the docs' "tick the types" sends every ticked type.
      ...(change.permissions !== undefined && { permissions: storedPermissions(change.permissions) }),
    });
    // rebind, not update: a binding change also changes the key's expiry (§6.2).
    if (updated && change.ips !== undefined) updated = keys.rebind(key.apiKey, change.ips);
    if (!updated) throw new Error(`key ${key.apiKey} vanished while being modified`);
    return updated;
  };

  return [
    {
      method: 'POST',
      path: '/v5/user/create-sub-api',
      access: 'read',
      perSecond: 1,
      handle: (context) => {
        const caller = callerOf(context);
        if (!caller.isMaster) return fail(PERMISSION_DENIED);
        const params = parse(CreateSubApiParams, context.params);
        if (!params.ok) return fail(params);
        const { subuid, note, readOnly, ips, permissions } = params.value;
        const account = subAccountOf(caller, subuid, 'subuid');
        if (!account.ok) return fail(account);
        const accountId = account.value;
        const { apiKey, secret } = deps.newCredentials();
        // No ips means no binding: KeyStore.add then sets the 90-day expiry (§6.2, §9 row 21).
        const created = keys.add({
          apiKey,
          secret,
          accountId,
          uid: subuid,
          note: note ?? '',
          readOnly,
          permissions: storedPermissions(permissions),
          ips: ips ?? ['*'],
          isMaster: false,
          parentUid: uidOfKey(caller),
          createdAt: deps.clock(),
        });
        // The only reply that carries the secret; query-api always answers "" (§6.1). No ips here (§6.3).
        return okUser({ id: String(created.id), note: created.note, apiKey: created.apiKey, readOnly: created.readOnly ? 1 : 0, secret, permissions: permissionsJson(created.permissions) });
      },
    },
    {
      method: 'POST',
      path: '/v5/user/update-api',
      access: 'read',
      perSecond: 5,
      handle: (context) => {
        const caller = callerOf(context);
        if (!caller.isMaster) return fail(PERMISSION_DENIED);
        // Changelog 2026-02-09: update-api lost `ips`; IP binding can no longer be changed over the API (§6.1).
        if (context.params.ips !== undefined && context.params.ips !== null) {
          return fail(failure(IP_WHITELIST_VIA_API, 'To add or update the IP whitelist, go to API management and select Edit'));
        }
        const params = parse(UpdateApiParams, context.params);
        if (!params.ok) return fail(params);
        if (params.value.apikey !== undefined && params.value.apikey !== caller.apiKey) return fail(paramError('apikey', 'update-api modifies the calling key only'));
        const { readOnly, permissions } = params.value;
        return okUser(updatedJson(modify(caller, { readOnly, permissions })));
      },
    },
    {
      method: 'POST',
      path: '/v5/user/update-sub-api',
      access: 'read',
      perSecond: 5,
      handle: (context) => {
        const caller = callerOf(context);
        if (!caller.isMaster && !isSubKey(caller)) return fail(PERMISSION_DENIED);
        const params = parse(UpdateSubApiParams, context.params);
        if (!params.ok) return fail(params);
        const subject = subjectOf(caller, params.value.apikey);
        if (!subject.ok) return fail(subject);
        const { readOnly, permissions, ips } = params.value;
        return okUser(updatedJson(modify(subject.value, { readOnly, permissions, ips })));
      },
    },
    {
      method: 'POST',
      path: '/v5/user/delete-api',
      access: 'read',
      perSecond: 5,
      handle: (context) => {
        const caller = callerOf(context);
        if (!caller.isMaster) return fail(PERMISSION_DENIED);
        // "will be invalid immediately": the next request with this key finds no key (10003).
        keys.delete(caller.apiKey);
        return okUser({});
      },
    },
    {
      method: 'POST',
      path: '/v5/user/delete-sub-api',
      access: 'read',
      perSecond: 5,
      handle: (context) => {
        const caller = callerOf(context);
        if (!caller.isMaster && !isSubKey(caller)) return fail(PERMISSION_DENIED);
        const params = parse(DeleteSubApiParams, context.params);
        if (!params.ok) return fail(params);
        const subject = subjectOf(caller, params.value.apikey);
        if (!subject.ok) return fail(subject);
        keys.delete(subject.value.apiKey);
        return okUser({});
      },
    },
    {
      method: 'GET',
      path: '/v5/user/sub-apikeys',
      access: 'read',
      perSecond: 10,
      handle: (context) => {
        const caller = callerOf(context);
        // "Only master account can call this endpoint"; no code documented (§9 row 23).
        if (!caller.isMaster) return fail(PERMISSION_DENIED);
        const params = parse(SubApiKeysParams, context.params);
        if (!params.ok) return fail(params);
        const { subMemberId, limit = 20, cursor } = params.value;
        const account = subAccountOf(caller, subMemberId, 'subMemberId');
        if (!account.ok) return fail(account);
        const start = pageStartOf(cursor, subMemberId);
        if (!start.ok) return fail(start);
        // Creation order; expired keys stay listed, deleted ones are gone from the store (§9 row 26).
        const rest = keys.ofAccount(account.value).filter((key) => key.id >= start.value);
        const next = rest[limit];
        return okUser({ result: rest.slice(0, limit).map((key) => listedJson(key, context.now)), nextPageCursor: next ? subApiKeysCursor(subMemberId, next.id) : '' });
      },
    },
  ];
}
