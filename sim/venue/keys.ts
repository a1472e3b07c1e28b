/**
 * API keys of the simulated venue: which account (UID) a key trades for, its permissions, IP allow-list,
 * whether it belongs to a master account, and its expiry (Bybit: a key bound to no IP expires after
 * 90 days). Sources in sim/README.md.
 */

export type Permissions = Readonly<Record<string, readonly string[]>>;

export interface ApiKeyRecord {
  readonly id: number;
  readonly apiKey: string;
  readonly secret: string;
  /** The exchange account this key acts for. */
  readonly accountId: string;
  readonly uid: number;
  readonly note: string;
  readonly readOnly: boolean;
  readonly permissions: Permissions;
  readonly ips: readonly string[];
  readonly isMaster: boolean;
  /** UID of the master account for a sub-account key; 0 for a master key. */
  readonly parentUid: number;
  readonly createdAt: number;
  /** ms since epoch; undefined when the key does not expire (bound to IPs). */
  readonly expiresAt: number | undefined;
}

export const NINETY_DAYS_MS = 90 * 24 * 60 * 60_000;

export const TRADING_PERMISSIONS: Permissions = {
  ContractTrade: ['Order', 'Position'],
  Spot: [],
  Wallet: [],
  Options: [],
  Derivatives: [],
  Exchange: [],
  Earn: [],
};

/** Bybit: a key bound to no IP (none, or "*") is invalid 90 days after creation; a bound key does not expire. */
function expiryOf(ips: readonly string[], createdAt: number): number | undefined {
  return ips.length === 0 || ips.includes('*') ? createdAt + NINETY_DAYS_MS : undefined;
}

export class KeyStore {
  private readonly byApiKey = new Map<string, ApiKeyRecord>();
  private nextId = 1;

  add(record: Omit<ApiKeyRecord, 'id' | 'expiresAt'> & { readonly expiresAt?: number | undefined }): ApiKeyRecord {
    if (this.byApiKey.has(record.apiKey)) throw new Error(`api key ${record.apiKey} exists`);
    const expiresAt = record.expiresAt ?? expiryOf(record.ips, record.createdAt);
    const stored: ApiKeyRecord = { ...record, id: this.nextId++, expiresAt };
    this.byApiKey.set(record.apiKey, stored);
    return stored;
  }

  /** The key, or why there is none usable. */
  lookup(apiKey: string, now: number): { readonly status: 'ok'; readonly key: ApiKeyRecord } | { readonly status: 'unknown' | 'expired' } {
    const key = this.byApiKey.get(apiKey);
    if (!key) return { status: 'unknown' };
    if (key.expiresAt !== undefined && now >= key.expiresAt) return { status: 'expired' };
    return { status: 'ok', key };
  }

  /** The key whatever its expiry: key management may still modify or delete an expired key. */
  find(apiKey: string): ApiKeyRecord | undefined {
    return this.byApiKey.get(apiKey);
  }

  /**
   * Binds the key to `ips` (empty or "*": no binding). The expiry follows the new binding by the rule
   * add() applies, still counted from the key's creation, so rebinding never extends an unbound key's life.
   */
  rebind(apiKey: string, ips: readonly string[]): ApiKeyRecord | undefined {
    const key = this.byApiKey.get(apiKey);
    if (!key) return undefined;
    const updated = { ...key, ips, expiresAt: expiryOf(ips, key.createdAt) };
    this.byApiKey.set(apiKey, updated);
    return updated;
  }

  update(apiKey: string, change: Partial<Pick<ApiKeyRecord, 'readOnly' | 'permissions' | 'ips' | 'note'>>): ApiKeyRecord | undefined {
    const key = this.byApiKey.get(apiKey);
    if (!key) return undefined;
    const updated = { ...key, ...change };
    this.byApiKey.set(apiKey, updated);
    return updated;
  }

  delete(apiKey: string): boolean {
    return this.byApiKey.delete(apiKey);
  }

  ofUid(uid: number): ApiKeyRecord[] {
    return [...this.byApiKey.values()].filter((key) => key.uid === uid);
  }

  /** The keys acting for this account, expired ones too, in creation order (ascending id). */
  ofAccount(accountId: string): ApiKeyRecord[] {
    return [...this.byApiKey.values()].filter((key) => key.accountId === accountId).sort((a, b) => a.id - b.id);
  }
}

/** May this key place and cancel derivatives orders? */
export function canTrade(key: ApiKeyRecord): boolean {
  return !key.readOnly && (key.permissions.ContractTrade?.includes('Order') ?? false);
}
