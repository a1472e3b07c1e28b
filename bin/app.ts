/**
 * The CDK app: `npm run synth` (offline; fails on any unsuppressed cdk-nag finding), `npx cdk diff|deploy
 * 'dev/*'`. Stages and who may deploy come from the context key `mmrb` (cdk.json); each shard's engine
 * configuration is loaded and checked with the engine's own loader (lib/settings.ts).
 */
import { App } from 'aws-cdk-lib';
import { join } from 'node:path';
import { defineApp } from '../lib/app.js';
import { REPOSITORY_ROOT } from '../lib/lambda-bundling.js';
import { cdkJsonContext, findingsOf, stacksOf } from '../lib/synth.js';

// Run by the CDK CLI, the context arrives in CDK_CONTEXT_JSON; run directly (npm run synth), from cdk.json.
const context = process.env.CDK_CONTEXT_JSON === undefined ? cdkJsonContext(join(REPOSITORY_ROOT, 'cdk.json')) : {};
const app = new App({ outdir: process.env.CDK_OUTDIR ?? join(REPOSITORY_ROOT, 'cdk.out'), context });
defineApp(app, REPOSITORY_ROOT);
// An unsuppressed cdk-nag error fails the synthesis itself (the CDK's validation report names each one).
const assembly = app.synth();
const findings = findingsOf(assembly);
for (const finding of findings) console.error(`${finding.level}: ${finding.path}: ${finding.message}`);
if (findings.length > 0) {
  console.error(`synth: ${findings.length} findings (cdk-nag warnings count: fix them or suppress them with a reason)`);
  process.exit(1);
}
console.log(`synth: ${stacksOf(assembly).length} stacks in ${assembly.directory}, cdk-nag AwsSolutions clean`);
