/**
 * Least privilege that still works: every DynamoDB command an adapter sends is allowed to the principals
 * that use the adapter (IAM would refuse it in AWS, which the emulator does not check), and nothing else is.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ItemAction, TABLE_ACCESS } from '../../../lib/access.js';
import { REPOSITORY_ROOT } from '../../../lib/lambda-bundling.js';

/** The item actions a command needs (a transaction is authorised per item: puts, updates, condition checks). */
const ACTIONS_OF: Readonly<Record<string, readonly ItemAction[]>> = {
  GetItemCommand: ['GetItem'],
  BatchGetItemCommand: ['BatchGetItem'],
  QueryCommand: ['Query'],
  PutItemCommand: ['PutItem'],
  UpdateItemCommand: ['UpdateItem'],
  TransactWriteItemsCommand: ['PutItem', 'UpdateItem', 'ConditionCheckItem'],
};

function commandsOf(adapter: string): string[] {
  const source = readFileSync(join(REPOSITORY_ROOT, 'src/adapters/dynamodb', `${adapter}.ts`), 'utf8');
  return [...new Set([...source.matchAll(/new (\w+Command)\(/g)].map((match) => match[1] ?? ''))].sort();
}

/** The adapters each principal builds (src/app/engine-process.ts, lambdas/*.ts), and what it sends with them. */
const USES: Readonly<Record<keyof typeof TABLE_ACCESS, readonly { adapter: string; only?: readonly string[] }[]>> = {
  // The control store's history (a query of the audit trail) is GET /status's alone.
  engine: [{ adapter: 'state-store' }, { adapter: 'lease-store' }, { adapter: 'heartbeat-store' }, { adapter: 'control-store', only: ['GetItemCommand', 'TransactWriteItemsCommand'] }],
  riskEvaluator: [{ adapter: 'exposure-store' }, { adapter: 'heartbeat-store' }, { adapter: 'control-store', only: ['GetItemCommand', 'TransactWriteItemsCommand'] }],
  // GET /status reads positions and open orders through the state store: queries only.
  freezeApi: [{ adapter: 'control-store' }, { adapter: 'heartbeat-store' }, { adapter: 'state-store', only: ['QueryCommand'] }],
  // Which key each engine uses: heartbeats read only (the rotation writes no item).
  secretRotation: [{ adapter: 'heartbeat-store', only: ['BatchGetItemCommand'] }],
};

describe('table access', () => {
  it('names the commands the adapters send', () => {
    expect(commandsOf('lease-store')).toEqual(['GetItemCommand', 'PutItemCommand', 'UpdateItemCommand']);
    for (const adapter of ['state-store', 'lease-store', 'heartbeat-store', 'control-store', 'exposure-store']) for (const command of commandsOf(adapter)) expect(Object.keys(ACTIONS_OF)).toContain(command);
  });

  it.each(Object.keys(USES) as (keyof typeof TABLE_ACCESS)[])('%s: every action its adapters need is granted on one of its tables, and only those', (principal) => {
    const needed = new Set<ItemAction>();
    for (const use of USES[principal]) for (const command of use.only ?? commandsOf(use.adapter)) for (const action of ACTIONS_OF[command] ?? []) needed.add(action);
    const granted = new Set<ItemAction>(Object.values<readonly ItemAction[]>(TABLE_ACCESS[principal]).flat());
    expect([...needed].filter((action) => !granted.has(action))).toEqual([]);
    expect([...granted].filter((action) => !needed.has(action))).toEqual([]);
  });

  it('never grants a scan, a delete, a batch write or table administration', () => {
    for (const access of Object.values(TABLE_ACCESS)) for (const actions of Object.values(access)) for (const action of actions) expect(['GetItem', 'BatchGetItem', 'Query', 'PutItem', 'UpdateItem', 'ConditionCheckItem']).toContain(action);
  });
});
