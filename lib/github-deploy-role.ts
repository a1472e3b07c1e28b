/**
 * The role GitHub Actions deploys with, through OpenID Connect: no long-lived AWS keys anywhere. Its trust
 * policy admits tokens of this repository only, and of its main branch or its named environments only
 * (the deploy jobs run in environments, whose protection rules hold prod's approval). It may do one thing:
 * assume the CDK bootstrap roles of the stages' regions, which hold the deploy permissions (the
 * bootstrap's own least-privilege design); the role itself can change nothing.
 */
import { Aws, CfnOutput, Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
/** The CDK bootstrap's default qualifier (cdk bootstrap --qualifier changes it). */
export const DEFAULT_BOOTSTRAP_QUALIFIER = 'hnb659fds';

export interface GithubDeployRoleProps {
  /** `owner/name`. */
  readonly repository: string;
  readonly branch: string;
  readonly environments: readonly string[];
  /** Regions of the stages this role deploys (their bootstrap roles). */
  readonly regions: readonly string[];
  /** An existing provider of token.actions.githubusercontent.com in the account; created when unset. */
  readonly oidcProviderArn?: string;
  readonly bootstrapQualifier?: string;
}

/** The token subjects the role trusts: the branch, and each environment. */
export function trustedSubjects(props: Pick<GithubDeployRoleProps, 'repository' | 'branch' | 'environments'>): string[] {
  return [`repo:${props.repository}:ref:refs/heads/${props.branch}`, ...props.environments.map((environment) => `repo:${props.repository}:environment:${environment}`)];
}

export class GithubDeployRole extends Construct {
  readonly role: iam.Role;
  readonly provider: iam.IOidcProvider;

  constructor(scope: Construct, id: string, props: GithubDeployRoleProps) {
    super(scope, id);
    this.provider =
      props.oidcProviderArn !== undefined
        ? iam.OidcProviderNative.fromOidcProviderArn(this, 'Provider', props.oidcProviderArn)
        : new iam.OidcProviderNative(this, 'Provider', { url: `https://${GITHUB_OIDC_HOST}`, clientIds: ['sts.amazonaws.com'] });
    this.role = new iam.Role(this, 'Role', {
      roleName: 'mmrb-github-deploy',
      description: `Assumed by GitHub Actions of ${props.repository} (${props.branch}, environments ${props.environments.join(', ')}) to run cdk deploy`,
      maxSessionDuration: Duration.hours(1),
      assumedBy: new iam.WebIdentityPrincipal(this.provider.oidcProviderArn, {
        StringEquals: {
          [`${GITHUB_OIDC_HOST}:aud`]: 'sts.amazonaws.com',
          // Exact subjects, no wildcard: another repository, a fork, a tag or a feature branch is refused.
          [`${GITHUB_OIDC_HOST}:sub`]: trustedSubjects(props),
        },
      }),
    });
    const qualifier = props.bootstrapQualifier ?? DEFAULT_BOOTSTRAP_QUALIFIER;
    const bootstrapRoles = props.regions.flatMap((region) =>
      ['deploy-role', 'file-publishing-role', 'image-publishing-role', 'lookup-role'].map((kind) => `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/cdk-${qualifier}-${kind}-${Aws.ACCOUNT_ID}-${region}`),
    );
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole', 'sts:TagSession'], resources: bootstrapRoles }));
    new CfnOutput(this, 'DeployRoleArn', { value: this.role.roleArn, description: 'The GitHub repository variable AWS_DEPLOY_ROLE_ARN' });
  }
}
