/**
 * The whole CDK app, defined on an App: one TradingStage per configured stage and the account's deploy
 * access, every one checked by cdk-nag's AwsSolutions pack. bin/app.ts synthesises it; the infrastructure
 * tests define the same app (with bundling skipped) and assert on its templates.
 */
import { type App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CONTEXT_KEY, loadShards, parseAppSettings } from './settings.js';
import { DeployAccessStack, TradingStage } from './stacks.js';

export interface TradingApp {
  readonly stages: ReadonlyMap<string, TradingStage>;
  readonly deployAccess: DeployAccessStack;
}

export function defineApp(app: App, repositoryRoot: string): TradingApp {
  const settings = parseAppSettings(app.node.tryGetContext(CONTEXT_KEY));
  const checks = new AwsSolutionsChecks({ verbose: true });
  const stages = new Map<string, TradingStage>();
  for (const [stage, stageSettings] of Object.entries(settings.stages)) {
    const tradingStage = new TradingStage(app, stage, { settings: stageSettings, shards: loadShards(stage, stageSettings, repositoryRoot) });
    // Aspects do not cross a Stage's boundary: each stage is checked on its own.
    Aspects.of(tradingStage).add(checks);
    stages.set(stage, tradingStage);
  }
  const access = settings.deployAccess;
  const deployAccess = new DeployAccessStack(app, 'DeployAccess', {
    stackName: 'mmrb-deploy-access',
    description: 'MM rebate bot: GitHub OIDC deploy role',
    env: { region: access.region, ...(access.account !== undefined && { account: access.account }) },
    settings: access,
    regions: [...new Set(Object.values(settings.stages).map((stage) => stage.region))].sort(),
  });
  Aspects.of(app).add(checks);
  return { stages, deployAccess };
}
