/**
 * The risk evaluator's exposure sums (src/core/exposure.ts) in the control table:
 *
 *   exposure#<symbol>                        cumulative sums, the last price (lastPrice, lastExecTime, lastExecId), peakPnl
 *   exposure-day#<symbol>#<yyyy-mm-dd>        the sums of one UTC day
 *   exposure-min#<symbol>#<minute>            the sums of one minute (minutes since 1970), with expiresAt
 *   seen#fill:<execId>                        the marker that a fill was counted, with expiresAt
 *
 * A fill is applied in ONE TransactWriteItems: the seen marker, conditioned on not existing, and an ADD of
 * the fill's contribution to the three sums. A fill delivered again fails the marker's condition and the
 * whole transaction is cancelled: it is counted exactly once. DynamoDB numbers are exact decimals (38
 * digits; the emulator keeps 28), so the sums are ADDed as the decimal strings themselves.
 *
 * The last price is a separate conditional update after the transaction (only a newer fill moves it, so a
 * late or repeated one cannot move the mark backwards); it is written on a duplicate too, so a retry after
 * a failure between the two requests completes it. The peak is raised conditionally the same way.
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  TransactWriteItemsCommand,
  TransactionCanceledException,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { type Decimal, ZERO, dec } from '../../core/decimal.js';
import type { FillEventV1 } from '../../core/events.js';
import { EMPTY_SUMS, type ExposureSums, type LastPrice, type SymbolExposure, fillSums, lastPriceOf, minuteOf, utcDay } from '../../core/exposure.js';

export interface DynamoExposureStoreOptions {
  readonly client: DynamoDBClient;
  /** The control table's name. */
  readonly table: string;
  readonly requestTimeoutMs: number;
  /**
   * How long a seen marker is kept, in seconds (expiresAt, once the table has a TTL). It must outlive every
   * redelivery: SQS keeps a message 14 days at most, and a DLQ redrive comes within that. Default 30 days.
   */
  readonly seenTtlSeconds?: number;
  /** How long a minute bucket is kept past its minute, in seconds; longer than the longest edge window. Default 2 days. */
  readonly minuteTtlSeconds?: number;
  /** ms since 1970, for the seen markers' expiry; Date.now unless a test says otherwise. */
  readonly clock?: () => number;
}

export type ApplyOutcome = 'applied' | 'duplicate';

const DAY_SECONDS = 86_400;
/** BatchGetItem takes at most 100 keys. */
const MAX_KEYS_PER_BATCH = 100;

export const exposureKeys = {
  total: (symbol: string) => `exposure#${symbol}`,
  day: (symbol: string, day: string) => `exposure-day#${symbol}#${day}`,
  minute: (symbol: string, minute: number) => `exposure-min#${symbol}#${minute}`,
  seen: (eventId: string) => `seen#${eventId}`,
};

/** A decimal as a DynamoDB number; never "-0". */
function numberValue(value: Decimal): AttributeValue {
  return { N: value.eq(ZERO) ? '0' : value.toFixed() };
}

/**
 * A stored number as a Decimal. DynamoDB answers in plain notation; the emulator (Python's Decimal) may
 * answer in scientific notation ("1E-7", "0E-10"), which is turned into plain digits first, exactly.
 */
export function storedDecimal(text: string): Decimal {
  const scientific = /^(-?)(\d+)(?:\.(\d+))?[eE]([+-]?\d+)$/.exec(text);
  if (!scientific) return dec(text);
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = scientific;
  const digits = `${whole}${fraction}`;
  const point = whole.length + Number(exponent);
  let plain: string;
  if (point <= 0) plain = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) plain = `${digits}${'0'.repeat(point - digits.length)}`;
  else plain = `${digits.slice(0, point)}.${digits.slice(point)}`;
  // Leading zeros of the whole part ("00.5", "000") are not plain decimal notation.
  plain = plain.replace(/^0+(?=\d)/, '');
  return dec(`${sign}${plain}`);
}

function sumsOf(item: Record<string, AttributeValue> | undefined): ExposureSums {
  if (!item) return EMPTY_SUMS;
  const decimal = (name: string): Decimal => {
    const value = item[name]?.N;
    return value === undefined ? ZERO : storedDecimal(value);
  };
  const count = (name: string): number => {
    const value = item[name]?.N;
    return value === undefined ? 0 : Number(value);
  };
  return { netQty: decimal('netQty'), cash: decimal('cash'), fees: decimal('fees'), fills: count('fills'), makerFills: count('makerFills'), notional: decimal('notional') };
}

function lastPriceFrom(item: Record<string, AttributeValue> | undefined): LastPrice | undefined {
  const price = item?.lastPrice?.N;
  const execTime = item?.lastExecTime?.N;
  const execId = item?.lastExecId?.S;
  if (price === undefined || execTime === undefined || execId === undefined) return undefined;
  return { price: storedDecimal(price), execTime: Number(execTime), execId };
}

export class DynamoExposureStore {
  private readonly seenTtlSeconds: number;
  private readonly minuteTtlSeconds: number;

  constructor(private readonly options: DynamoExposureStoreOptions) {
    this.seenTtlSeconds = options.seenTtlSeconds ?? 30 * DAY_SECONDS;
    this.minuteTtlSeconds = options.minuteTtlSeconds ?? 2 * DAY_SECONDS;
  }

  private signal(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(this.options.requestTimeoutMs) };
  }

  /** Counts the fill once (by execId) into its symbol's sums, then moves the mark if the fill is the newest. */
  async applyFill(fill: FillEventV1): Promise<ApplyOutcome> {
    const { table } = this.options;
    const sums = fillSums(fill);
    const minute = minuteOf(fill.execTime);
    const add = {
      UpdateExpression: 'SET #symbol = :symbol ADD #netQty :netQty, #cash :cash, #fees :fees, #fills :fills, #makerFills :makerFills, #notional :notional',
      ExpressionAttributeNames: { '#symbol': 'symbol', '#netQty': 'netQty', '#cash': 'cash', '#fees': 'fees', '#fills': 'fills', '#makerFills': 'makerFills', '#notional': 'notional' },
      ExpressionAttributeValues: {
        ':symbol': { S: fill.symbol },
        ':netQty': numberValue(sums.netQty),
        ':cash': numberValue(sums.cash),
        ':fees': numberValue(sums.fees),
        ':fills': { N: String(sums.fills) },
        ':makerFills': { N: String(sums.makerFills) },
        ':notional': numberValue(sums.notional),
      },
    };
    const expiresAt = (seconds: number): AttributeValue => ({ N: String(Math.floor((this.options.clock ?? Date.now)() / 1000) + seconds) });
    let outcome: ApplyOutcome = 'applied';
    try {
      await this.options.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: table,
                Item: { pk: { S: exposureKeys.seen(fill.eventId) }, symbol: { S: fill.symbol }, execTime: { N: String(fill.execTime) }, expiresAt: expiresAt(this.seenTtlSeconds) },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Update: { TableName: table, Key: { pk: { S: exposureKeys.total(fill.symbol) } }, ...add } },
            { Update: { TableName: table, Key: { pk: { S: exposureKeys.day(fill.symbol, utcDay(fill.execTime)) } }, ...add } },
            {
              Update: {
                TableName: table,
                Key: { pk: { S: exposureKeys.minute(fill.symbol, minute) } },
                ...add,
                // The bucket's own minute, not the time of writing: a late fill does not keep an old bucket longer.
                UpdateExpression: add.UpdateExpression.replace('SET #symbol = :symbol', 'SET #symbol = :symbol, #expiresAt = :expiresAt'),
                ExpressionAttributeNames: { ...add.ExpressionAttributeNames, '#expiresAt': 'expiresAt' },
                ExpressionAttributeValues: { ...add.ExpressionAttributeValues, ':expiresAt': { N: String((minute + 1) * 60 + this.minuteTtlSeconds) } },
              },
            },
          ],
        }),
        this.signal(),
      );
    } catch (error) {
      // Only the marker has a condition: its failure means the fill was counted before.
      if (!(error instanceof TransactionCanceledException) || error.CancellationReasons?.[0]?.Code !== 'ConditionalCheckFailed') throw error;
      outcome = 'duplicate';
    }
    await this.moveLastPrice(fill.symbol, lastPriceOf(fill));
    return outcome;
  }

  /** Sets the mark unless a newer fill's is stored; 'older' then. */
  async moveLastPrice(symbol: string, price: LastPrice): Promise<'moved' | 'older'> {
    try {
      await this.options.client.send(
        new UpdateItemCommand({
          TableName: this.options.table,
          Key: { pk: { S: exposureKeys.total(symbol) } },
          UpdateExpression: 'SET #lastPrice = :price, #lastExecTime = :time, #lastExecId = :id',
          ConditionExpression: 'attribute_not_exists(#lastExecTime) OR #lastExecTime < :time OR (#lastExecTime = :time AND #lastExecId < :id)',
          ExpressionAttributeNames: { '#lastPrice': 'lastPrice', '#lastExecTime': 'lastExecTime', '#lastExecId': 'lastExecId' },
          ExpressionAttributeValues: { ':price': numberValue(price.price), ':time': { N: String(price.execTime) }, ':id': { S: price.execId } },
        }),
        this.signal(),
      );
      return 'moved';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'older';
      throw error;
    }
  }

  /** Raises the PnL high-water mark to `pnl` unless a higher one is stored; 'lower' then. */
  async raisePeak(symbol: string, pnl: Decimal): Promise<'raised' | 'lower'> {
    try {
      await this.options.client.send(
        new UpdateItemCommand({
          TableName: this.options.table,
          Key: { pk: { S: exposureKeys.total(symbol) } },
          UpdateExpression: 'SET #peak = :pnl',
          ConditionExpression: 'attribute_not_exists(#peak) OR #peak < :pnl',
          ExpressionAttributeNames: { '#peak': 'peakPnl' },
          ExpressionAttributeValues: { ':pnl': numberValue(pnl) },
        }),
        this.signal(),
      );
      return 'raised';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'lower';
      throw error;
    }
  }

  /** The symbol's cumulative sums, the given day's and the given minutes' (consistent reads). */
  async read(symbol: string, day: string, minutes: readonly number[]): Promise<SymbolExposure> {
    const totalKey = exposureKeys.total(symbol);
    const dayKey = exposureKeys.day(symbol, day);
    const items = await this.batchGet([totalKey, dayKey, ...minutes.map((minute) => exposureKeys.minute(symbol, minute))]);
    const total = items.get(totalKey);
    const peak = total?.peakPnl?.N;
    const buckets = new Map<number, ExposureSums>();
    for (const minute of minutes) {
      const item = items.get(exposureKeys.minute(symbol, minute));
      if (item) buckets.set(minute, sumsOf(item));
    }
    return {
      symbol,
      total: sumsOf(total),
      lastPrice: lastPriceFrom(total),
      peakPnl: peak === undefined ? undefined : storedDecimal(peak),
      day: sumsOf(items.get(dayKey)),
      minutes: buckets,
    };
  }

  /** Items by pk; missing ones are absent. Unprocessed keys (throttling) are asked again. */
  private async batchGet(keys: readonly string[]): Promise<Map<string, Record<string, AttributeValue>>> {
    const { table } = this.options;
    const found = new Map<string, Record<string, AttributeValue>>();
    for (let start = 0; start < keys.length; start += MAX_KEYS_PER_BATCH) {
      let pending: Record<string, AttributeValue>[] | undefined = keys.slice(start, start + MAX_KEYS_PER_BATCH).map((pk) => ({ pk: { S: pk } }));
      while (pending && pending.length > 0) {
        const answer: BatchGetItemCommandOutput = await this.options.client.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }), this.signal());
        for (const item of answer.Responses?.[table] ?? []) {
          const pk = item.pk?.S;
          if (pk !== undefined) found.set(pk, item);
        }
        pending = answer.UnprocessedKeys?.[table]?.Keys;
      }
    }
    return found;
  }
}
