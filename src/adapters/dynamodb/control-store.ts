/**
 * The control state (src/core/control.ts) in the control table, item `control`, with its audit trail in
 * the audit table (partition `control`). A change and its audit record go in one TransactWriteItems, the
 * change conditioned on the version it was computed from: a change is stored whole or not at all, and two
 * writers acting on the same state cannot both succeed.
 */
import {
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { type AuditItem, AuditItemSchema, type ControlChange, type ControlState, ControlItemSchema, INITIAL_CONTROL_STATE, auditItem, controlItem, controlStateOf } from '../../core/control.js';
import { parseRecord } from '../../core/records.js';
import type { CommitOutcome, ControlStore } from '../../ports/control.js';

export interface DynamoControlStoreOptions {
  readonly client: DynamoDBClient;
  readonly tables: { readonly control: string; readonly audit: string };
  readonly requestTimeoutMs: number;
}

export class DynamoControlStore implements ControlStore {
  constructor(private readonly options: DynamoControlStoreOptions) {}

  private signal(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(this.options.requestTimeoutMs) };
  }

  async read(): Promise<ControlState> {
    const answer = await this.options.client.send(
      new GetItemCommand({ TableName: this.options.tables.control, Key: marshall({ pk: 'control' }), ConsistentRead: true }),
      this.signal(),
    );
    if (!answer.Item) return INITIAL_CONTROL_STATE;
    return controlStateOf(parseRecord(ControlItemSchema, 'control state', unmarshall(answer.Item)));
  }

  async commit(change: ControlChange): Promise<CommitOutcome> {
    const seen = change.before.version;
    try {
      await this.options.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.options.tables.control,
                Item: marshall(controlItem(change.after), { removeUndefinedValues: true }),
                ...(seen === 0
                  ? { ConditionExpression: 'attribute_not_exists(pk) OR #version = :seen' }
                  : { ConditionExpression: '#version = :seen' }),
                ExpressionAttributeNames: { '#version': 'version' },
                ExpressionAttributeValues: marshall({ ':seen': seen }),
              },
            },
            { Put: { TableName: this.options.tables.audit, Item: marshall(auditItem(change)), ConditionExpression: 'attribute_not_exists(#at)', ExpressionAttributeNames: { '#at': 'at' } } },
          ],
        }),
        this.signal(),
      );
      return { ok: true };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const conditional = error.CancellationReasons?.some((reason) => reason.Code === 'ConditionalCheckFailed') ?? false;
      if (!conditional) throw error;
      return { ok: false, current: await this.read() };
    }
  }

  async history(limit: number): Promise<AuditItem[]> {
    const answer = await this.options.client.send(
      new QueryCommand({
        TableName: this.options.tables.audit,
        KeyConditionExpression: '#scope = :scope',
        ExpressionAttributeNames: { '#scope': 'scope' },
        ExpressionAttributeValues: marshall({ ':scope': 'control' }),
        ScanIndexForward: false,
        Limit: limit,
      }),
      this.signal(),
    );
    return (answer.Items ?? []).map((item) => parseRecord(AuditItemSchema, 'audit record', unmarshall(item)));
  }
}
