/**
 * Least privilege on the tables: each principal gets the item actions its adapters send, on its tables and
 * the indexes it queries, named one by one (no table administration, no Scan, no deletes, no wildcards).
 * test/unit/infra/access.test.ts checks these lists against the commands the adapters actually send.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { type TableId, TABLES } from '../src/resources/definitions.js';

export type ItemAction = 'GetItem' | 'BatchGetItem' | 'Query' | 'PutItem' | 'UpdateItem' | 'ConditionCheckItem';

export type TableAccess = Readonly<Partial<Record<TableId, readonly ItemAction[]>>>;

const STATE_WRITER: readonly ItemAction[] = ['GetItem', 'BatchGetItem', 'Query', 'PutItem', 'UpdateItem', 'ConditionCheckItem'];
const CONTROL_WRITER: readonly ItemAction[] = ['GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem', 'ConditionCheckItem'];

/** Who reads and writes which table (transactions are authorised per item, by these same actions). */
export const TABLE_ACCESS = {
  /** Orders, fills, positions; its lease and heartbeat and the control state; an audit record when it freezes itself. */
  engine: { orders: STATE_WRITER, fills: STATE_WRITER, positions: STATE_WRITER, control: CONTROL_WRITER, audit: ['PutItem'] },
  /** Exposure and seen-fill markers, heartbeats and the control state; the audit record of its freezes. */
  riskEvaluator: { control: CONTROL_WRITER, audit: ['PutItem'] },
  /** The control state and its audit trail; reads positions and open orders for GET /status. */
  freezeApi: { control: CONTROL_WRITER, audit: ['PutItem', 'Query'], positions: ['Query'], orders: ['Query'] },
  /** The engines' heartbeats: which key each uses, before the old key is revoked. */
  secretRotation: { control: ['BatchGetItem'] },
} as const satisfies Record<string, TableAccess>;

/** Grants `access` on `tables`: the table ARNs, and each index of a table it may query. */
export function grantTableAccess(grantee: iam.IGrantable, tables: Readonly<Record<TableId, ITable>>, access: TableAccess): void {
  for (const [id, actions] of Object.entries(access) as [TableId, readonly ItemAction[]][]) {
    const table = tables[id];
    const indexes = actions.includes('Query') ? TABLES[id].globalIndexes.map((index) => `${table.tableArn}/index/${index.indexName}`) : [];
    iam.Grant.addToPrincipal({ grantee, actions: actions.map((action) => `dynamodb:${action}`), resourceArns: [table.tableArn, ...indexes] });
  }
}
