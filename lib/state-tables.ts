/**
 * The project's DynamoDB tables, built from src/resources/definitions.ts (keys, indexes, TTL, names), so a
 * key is defined once for the CDK, the local stack and the tests. Every table keeps point-in-time recovery
 * and is retained when its stack is deleted; production tables also refuse deletion.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { type AttributeType, type KeyAttribute, type ResourceNames, type TableId, TABLES } from '../src/resources/definitions.js';

export interface StateTablesProps {
  readonly names: ResourceNames;
  /** Deletion protection (production). */
  readonly deletionProtection: boolean;
}

const ATTRIBUTE_TYPES: Readonly<Record<AttributeType, dynamodb.AttributeType>> = { S: dynamodb.AttributeType.STRING, N: dynamodb.AttributeType.NUMBER };

const attribute = (key: KeyAttribute): dynamodb.Attribute => ({ name: key.name, type: ATTRIBUTE_TYPES[key.type] });

export class StateTables extends Construct {
  readonly tables: Readonly<Record<TableId, dynamodb.Table>>;

  constructor(scope: Construct, id: string, props: StateTablesProps) {
    super(scope, id);
    const tables: Partial<Record<TableId, dynamodb.Table>> = {};
    for (const definition of Object.values(TABLES)) {
      const table = new dynamodb.Table(this, definition.id, {
        tableName: props.names.tables[definition.id],
        partitionKey: attribute(definition.partitionKey),
        ...(definition.sortKey && { sortKey: attribute(definition.sortKey) }),
        // Load follows the market, in bursts: on demand, never throttled by a capacity guess.
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        deletionProtection: props.deletionProtection,
        // A named table is never replaced by a deploy (CloudFormation cannot create a second one with the
        // name); retained, it also outlives its stack.
        removalPolicy: RemovalPolicy.RETAIN,
        encryption: dynamodb.TableEncryption.AWS_MANAGED,
        ...(definition.timeToLiveAttribute !== undefined && { timeToLiveAttribute: definition.timeToLiveAttribute }),
      });
      for (const index of definition.globalIndexes) {
        table.addGlobalSecondaryIndex({
          indexName: index.indexName,
          partitionKey: attribute(index.partitionKey),
          ...(index.sortKey && { sortKey: attribute(index.sortKey) }),
          // The readers parse whole records from the indexes (open orders, owed events).
          projectionType: dynamodb.ProjectionType.ALL,
        });
      }
      tables[definition.id] = table;
    }
    this.tables = tables as Record<TableId, dynamodb.Table>;
  }
}
