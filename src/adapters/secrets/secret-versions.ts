/**
 * Secrets Manager as the key rotation sees it: a secret's versions and their staging labels, one version's
 * value, writing the AWSPENDING value, and moving labels. Every read names a version or a stage: moto's
 * unstaged read does not follow a moved AWSCURRENT (docs/TESTING.md).
 */
import { randomUUID } from 'node:crypto';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';

export const STAGES = { current: 'AWSCURRENT', pending: 'AWSPENDING', previous: 'AWSPREVIOUS' } as const;

/** The label a value put by hand carries until AWSCURRENT is moved to it. */
const HAND_PUT_STAGE = 'MMRBPUT';

export interface SecretVersions {
  readonly arn: string;
  readonly name: string;
  /** Null in AWS (and absent in moto) until rotation was ever configured. */
  readonly rotationEnabled: boolean;
  /** Version id → its staging labels; versions without a label are left out (AWS omits them, moto lists them empty). */
  readonly stagesByVersion: ReadonlyMap<string, readonly string[]>;
  /** When the secret last changed (a new value or a moved label), in ms since the epoch. */
  readonly lastChangedAt: number | undefined;
}

/** The version carrying a label, if any. */
export function versionWith(versions: SecretVersions, stage: string): string | undefined {
  for (const [versionId, stages] of versions.stagesByVersion) if (stages.includes(stage)) return versionId;
  return undefined;
}

export interface SecretVersionsStoreOptions {
  readonly client: SecretsManagerClient;
  readonly requestTimeoutMs: number;
}

export class SecretVersionsStore {
  constructor(private readonly options: SecretVersionsStoreOptions) {}

  private signal(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(this.options.requestTimeoutMs) };
  }

  async describe(secretId: string): Promise<SecretVersions> {
    const answer = await this.options.client.send(new DescribeSecretCommand({ SecretId: secretId }), this.signal());
    const stagesByVersion = new Map<string, readonly string[]>();
    for (const [versionId, stages] of Object.entries(answer.VersionIdsToStages ?? {})) if (stages.length > 0) stagesByVersion.set(versionId, stages);
    return {
      arn: answer.ARN ?? secretId,
      name: answer.Name ?? secretId,
      rotationEnabled: answer.RotationEnabled === true,
      stagesByVersion,
      lastChangedAt: answer.LastChangedDate?.getTime(),
    };
  }

  /** The string value of a version (by id and stage, or by stage); undefined when it has none (the rotation's placeholder). */
  async value(secretId: string, select: { readonly stage: string; readonly versionId?: string }): Promise<string | undefined> {
    try {
      const answer = await this.options.client.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionStage: select.stage, ...(select.versionId !== undefined && { VersionId: select.versionId }) }),
        this.signal(),
      );
      return answer.SecretString;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  /** Writes the value of the rotation's version (the token), labelled AWSPENDING. */
  async putPending(secretId: string, token: string, value: string): Promise<void> {
    await this.options.client.send(
      new PutSecretValueCommand({ SecretId: secretId, ClientRequestToken: token, SecretString: value, VersionStages: [STAGES.pending] }),
      this.signal(),
    );
  }

  /** Moves AWSCURRENT (AWSPREVIOUS follows to the version it leaves). */
  async moveCurrent(secretId: string, toVersionId: string, fromVersionId: string): Promise<void> {
    await this.options.client.send(
      new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: STAGES.current, MoveToVersionId: toVersionId, RemoveFromVersionId: fromVersionId }),
      this.signal(),
    );
  }

  /**
   * Stores a value as AWSCURRENT by hand (break-glass, the first key): written under a label of its own,
   * then AWSCURRENT moved to it. One PutSecretValue would do in AWS; in moto it leaves AWSCURRENT on two
   * versions once a rotation has moved the label (docs/TESTING.md), and this way works in both.
   */
  async putCurrent(secretId: string, value: string): Promise<string> {
    const before = versionWith(await this.describe(secretId), STAGES.current);
    const versionId = randomUUID();
    await this.options.client.send(new PutSecretValueCommand({ SecretId: secretId, ClientRequestToken: versionId, SecretString: value, VersionStages: [HAND_PUT_STAGE] }), this.signal());
    if (before !== undefined) await this.moveCurrent(secretId, versionId, before);
    await this.removeStage(secretId, HAND_PUT_STAGE, versionId);
    return versionId;
  }

  /** Takes a label off a version. */
  async removeStage(secretId: string, stage: string, fromVersionId: string): Promise<void> {
    await this.options.client.send(new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: stage, RemoveFromVersionId: fromVersionId }), this.signal());
  }
}
