/**
 * Cancels every open order of the account at Bybit, symbol by symbol, without the engine: the watchdog of
 * the risk evaluator and the hard stop of the freeze API use it when the engine may be hung or dead.
 *
 * The key is read from Secrets Manager at each use (the caching provider, so a warm Lambda reuses it and
 * a rotated key is picked up); a refused key is fetched again once. Each symbol is cancelled on its own,
 * retried a few times: one failing symbol does not stop the others, and the report says which failed.
 * POST /v5/order/cancel-all (docs/v5/order/cancel-all.mdx), category linear.
 */
import { RestClientV5 } from 'bybit-api';
import type { VenueCancelReport, VenueCanceller } from '../../ports/control.js';
import type { ResolvedBybitCredentials } from '../secrets/bybit-credentials.js';
import { RestVenueAccount } from './account.js';

export interface CredentialsSource {
  get(): Promise<ResolvedBybitCredentials>;
  refresh(reason: string): Promise<ResolvedBybitCredentials>;
}

export interface RestVenueCancellerOptions {
  readonly credentials: CredentialsSource;
  readonly restUrl: string;
  readonly recvWindowMs: number;
  /** Tries per symbol. */
  readonly attempts: number;
  readonly sleep: (ms: number) => Promise<void>;
}

/** Bybit: 10003 invalid key, 10004 bad signature, 10005 permission denied, 33004 key expired. */
const AUTH_CODES = ['10003', '10004', '10005', '33004'];

export class RestVenueCanceller implements VenueCanceller {
  constructor(private readonly options: RestVenueCancellerOptions) {}

  private account(credentials: ResolvedBybitCredentials): RestVenueAccount {
    const client = new RestClientV5({ key: credentials.apiKey, secret: credentials.apiSecret, baseUrl: this.options.restUrl, recv_window: this.options.recvWindowMs });
    return new RestVenueAccount(client, new Map());
  }

  async cancelAll(symbols: readonly string[]): Promise<VenueCancelReport[]> {
    let account = this.account(await this.options.credentials.get());
    const reports: VenueCancelReport[] = [];
    for (const symbol of symbols) {
      let error = 'not tried';
      let done: VenueCancelReport | undefined;
      for (let attempt = 1; attempt <= this.options.attempts && !done; attempt++) {
        try {
          done = { symbol, ok: true, cancelled: await account.cancelAll(symbol) };
        } catch (thrown) {
          error = thrown instanceof Error ? thrown.message : 'unknown error';
          if (AUTH_CODES.some((code) => error.includes(` ${code} `) || error.endsWith(` ${code}`))) {
            account = this.account(await this.options.credentials.refresh('the venue refused the key during a cancel-all'));
          } else if (attempt < this.options.attempts) {
            await this.options.sleep(100 * 2 ** attempt);
          }
        }
      }
      reports.push(done ?? { symbol, ok: false, cancelled: 0, error });
    }
    return reports;
  }
}
