/**
 * Creates a stage's resources from src/resources/definitions.ts with the real AWS SDK clients, for the
 * local stack and the tests (in AWS, the CDK stacks create them from the same definitions).
 * Idempotent: what exists already is left as it is.
 */
import {
  type AttributeDefinition,
  type CreateTableCommandInput,
  CreateTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand, ResourceAlreadyExistsException } from '@aws-sdk/client-eventbridge';
import { CreateSecretCommand, ResourceExistsException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { type QueueId, type ResourceNames, type RuleDefinition, type TableDefinition, QUEUES, RULES, SECRETS, TABLES, engineControlQueueName, resourceNames, ruleName } from '../resources/definitions.js';

export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly eventBridge: EventBridgeClient;
  readonly sqs: SQSClient;
  readonly secrets: SecretsManagerClient;
  /** Lambda and IAM: only to register the rotation function Secrets Manager's RotateSecret names (src/local/rotation-driver.ts). */
  readonly lambda: LambdaClient;
  readonly iam: IAMClient;
}

export interface ClientSettings {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** One client per service, all pointed at the same endpoint (the emulator). */
export function createAwsClients(settings: ClientSettings): AwsClients {
  const config = { endpoint: settings.endpoint, region: settings.region, credentials: settings.credentials, maxAttempts: 3 };
  return {
    dynamodb: new DynamoDBClient(config),
    eventBridge: new EventBridgeClient(config),
    sqs: new SQSClient(config),
    secrets: new SecretsManagerClient(config),
    lambda: new LambdaClient(config),
    iam: new IAMClient(config),
  };
}

export function destroyAwsClients(clients: AwsClients): void {
  for (const client of Object.values(clients) as { destroy(): void }[]) client.destroy();
}

/** DynamoDB CreateTable input for a definition: on-demand billing, keys and indexes as defined. */
export function createTableInput(definition: TableDefinition, tableName: string): CreateTableCommandInput {
  const attributes = new Map<string, AttributeDefinition>();
  const keys = [definition.partitionKey, definition.sortKey, ...definition.globalIndexes.flatMap((index) => [index.partitionKey, index.sortKey])];
  for (const key of keys) if (key) attributes.set(key.name, { AttributeName: key.name, AttributeType: key.type });
  const keySchema = (partition: { name: string }, sort?: { name: string }) => [
    { AttributeName: partition.name, KeyType: 'HASH' as const },
    ...(sort ? [{ AttributeName: sort.name, KeyType: 'RANGE' as const }] : []),
  ];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes.values()],
    KeySchema: keySchema(definition.partitionKey, definition.sortKey),
    ...(definition.globalIndexes.length > 0 && {
      GlobalSecondaryIndexes: definition.globalIndexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: keySchema(index.partitionKey, index.sortKey),
        Projection: { ProjectionType: 'ALL' as const },
      })),
    }),
  };
}

async function ignoreIfExists(work: Promise<unknown>, existsError: abstract new (...args: never[]) => Error): Promise<void> {
  try {
    await work;
  } catch (error) {
    if (!(error instanceof existsError)) throw error;
  }
}

export interface ProvisionedStage {
  readonly names: ResourceNames;
  readonly queueUrls: Readonly<Record<QueueId, string>>;
  readonly queueArns: Readonly<Record<QueueId, string>>;
}

/** Creates every table, the bus, the queues (with their DLQs) and empty secrets of `stage`. */
export async function provisionStage(clients: AwsClients, stage: string): Promise<ProvisionedStage> {
  const names = resourceNames(stage);

  await Promise.all(
    Object.values(TABLES).map(async (definition) => {
      const tableName = names.tables[definition.id];
      await ignoreIfExists(clients.dynamodb.send(new CreateTableCommand(createTableInput(definition, tableName))), ResourceInUseException);
      await waitUntilTableExists({ client: clients.dynamodb, maxWaitTime: 30 }, { TableName: tableName });
      if (definition.timeToLiveAttribute) {
        await clients.dynamodb.send(
          new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: definition.timeToLiveAttribute, Enabled: true } }),
        );
      }
    }),
  );

  await ignoreIfExists(clients.eventBridge.send(new CreateEventBusCommand({ Name: names.eventBus })), ResourceAlreadyExistsException);

  // Dead-letter queues first: a queue's redrive policy names its DLQ's ARN.
  const queueUrls = {} as Record<QueueId, string>;
  const queueArns = {} as Record<QueueId, string>;
  const ordered = Object.values(QUEUES).sort((a, b) => Number(a.deadLetterQueue !== undefined) - Number(b.deadLetterQueue !== undefined));
  for (const definition of ordered) {
    const redrive = definition.deadLetterQueue
      ? { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: queueArns[definition.deadLetterQueue], maxReceiveCount: definition.maxReceiveCount ?? 5 }) }
      : {};
    const created = await clients.sqs.send(
      new CreateQueueCommand({
        QueueName: names.queues[definition.id],
        Attributes: { VisibilityTimeout: String(definition.visibilityTimeoutSeconds), ...redrive },
      }),
    );
    const url = created.QueueUrl;
    if (!url) throw new Error(`CreateQueue returned no URL for ${names.queues[definition.id]}`);
    const attributes = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
    const arn = attributes.Attributes?.QueueArn;
    if (!arn) throw new Error(`GetQueueAttributes returned no QueueArn for ${url}`);
    queueUrls[definition.id] = url;
    queueArns[definition.id] = arn;
  }

  await Promise.all(
    Object.values(SECRETS).map((definition) =>
      ignoreIfExists(
        clients.secrets.send(new CreateSecretCommand({ Name: names.secrets[definition.id], Description: definition.purpose })),
        ResourceExistsException,
      ),
    ),
  );

  return { names, queueUrls, queueArns };
}

export interface ProvisionedRouting {
  /** Each shard's control queue URL. */
  readonly controlQueueUrls: Readonly<Record<string, string>>;
}

/**
 * The bus's routing of `stage` (src/resources/definitions.ts RULES): fills to the risk evaluator's queue,
 * and Freeze and Unfreeze to each shard's own control queue (created here, with the shared DLQ).
 */
export async function provisionRouting(clients: AwsClients, stage: ProvisionedStage, shards: readonly string[]): Promise<ProvisionedRouting> {
  const { names } = stage;
  const putRule = async (rule: RuleDefinition, name: string, targetArn: string) => {
    await clients.eventBridge.send(new PutRuleCommand({ Name: name, EventBusName: names.eventBus, EventPattern: JSON.stringify(rule.pattern), State: 'ENABLED', Description: rule.purpose }));
    await clients.eventBridge.send(new PutTargetsCommand({ Rule: name, EventBusName: names.eventBus, Targets: [{ Id: rule.target, Arn: targetArn }] }));
  };
  await putRule(RULES.fillsToRisk, ruleName(names.stage, 'fillsToRisk'), stage.queueArns.riskFills);
  const controlQueueUrls: Record<string, string> = {};
  const control = QUEUES.engineControl;
  for (const shard of shards) {
    const created = await clients.sqs.send(
      new CreateQueueCommand({
        QueueName: engineControlQueueName(names.stage, shard),
        Attributes: {
          VisibilityTimeout: String(control.visibilityTimeoutSeconds),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: stage.queueArns.engineControlDlq, maxReceiveCount: control.maxReceiveCount ?? 5 }),
        },
      }),
    );
    const url = created.QueueUrl;
    if (!url) throw new Error(`CreateQueue returned no URL for the control queue of ${shard}`);
    const attributes = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
    const arn = attributes.Attributes?.QueueArn;
    if (!arn) throw new Error(`GetQueueAttributes returned no QueueArn for ${url}`);
    await putRule(RULES.controlToEngine, ruleName(names.stage, 'controlToEngine', shard), arn);
    controlQueueUrls[shard] = url;
  }
  return { controlQueueUrls };
}
