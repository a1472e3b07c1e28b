import { describe, expect, it } from '@jest/globals';
import { QUEUES, ResourceNameError, TABLES, resourceNames } from '../../../src/resources/definitions.js';
import { createTableInput } from '../../../src/local/provision.js';

describe('resource definitions', () => {
  it('name every resource of a stage under the project prefix', () => {
    const names = resourceNames('dev');
    expect(names.tables.orders).toBe('mmrb-dev-orders');
    expect(names.eventBus).toBe('mmrb-dev-bus');
    expect(names.queues.riskFillsDlq).toBe('mmrb-dev-risk-fills-dlq');
    expect(names.secrets.tradingKey).toBe('mmrb/dev/trading-key');
    expect(Object.keys(names.tables).sort()).toEqual(Object.keys(TABLES).sort());
  });

  it.each(['', 'Dev', '1dev', 'dev_1', 'a'.repeat(21)])('refuse the stage name %j', (stage) => {
    expect(() => resourceNames(stage)).toThrow(ResourceNameError);
  });

  it('give every queue with a dead-letter queue an existing one', () => {
    for (const queue of Object.values(QUEUES)) {
      if (queue.deadLetterQueue) expect(QUEUES[queue.deadLetterQueue].deadLetterQueue).toBeUndefined();
    }
  });

  it('turn into CreateTable input with each key attribute defined once', () => {
    const input = createTableInput(TABLES.fills, 'mmrb-x-fills');
    expect(input.KeySchema).toEqual([{ AttributeName: 'execId', KeyType: 'HASH' }]);
    expect(input.AttributeDefinitions).toEqual([
      { AttributeName: 'execId', AttributeType: 'S' },
      { AttributeName: 'symbol', AttributeType: 'S' },
      { AttributeName: 'execTime', AttributeType: 'N' },
      { AttributeName: 'eventPending', AttributeType: 'S' },
    ]);
    expect(input.GlobalSecondaryIndexes?.[0]?.IndexName).toBe('by-symbol-time');
    expect(createTableInput(TABLES.control, 'mmrb-x-control').GlobalSecondaryIndexes).toBeUndefined();
    const orders = createTableInput(TABLES.orders, 'mmrb-x-orders');
    expect(orders.AttributeDefinitions?.map((attribute) => attribute.AttributeName)).toEqual(['orderLinkId', 'openShard', 'eventPending']);
  });
});
