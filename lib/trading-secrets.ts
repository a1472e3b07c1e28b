/**
 * The Bybit keys' secrets (src/resources/definitions.ts): created with a random placeholder that no
 * schema accepts, so an engine started before the operator put the real key fails at once with a clear
 * error instead of trading with something else. The real values are put by hand (docs/DEPLOY.md) and
 * never pass through CloudFormation. Retained: deleting a stack must never delete a key.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { type ResourceNames, type SecretId, SECRETS } from '../src/resources/definitions.js';

export interface TradingSecretsProps {
  readonly names: ResourceNames;
}

export class TradingSecrets extends Construct {
  readonly secrets: Readonly<Record<SecretId, secretsmanager.Secret>>;

  constructor(scope: Construct, id: string, props: TradingSecretsProps) {
    super(scope, id);
    const secrets: Partial<Record<SecretId, secretsmanager.Secret>> = {};
    for (const definition of Object.values(SECRETS)) {
      secrets[definition.id] = new secretsmanager.Secret(this, definition.id, {
        secretName: props.names.secrets[definition.id],
        description: `${definition.purpose} Put the value by hand (docs/DEPLOY.md); this placeholder is refused.`,
        removalPolicy: RemovalPolicy.RETAIN,
      });
    }
    this.secrets = secrets as Record<SecretId, secretsmanager.Secret>;
  }
}
