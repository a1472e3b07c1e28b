import { beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import * as z from 'zod';
import { ensureMotoVenv } from '../../../src/local/moto.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const workflowsDir = join(repo, '.github', 'workflows');

// Only the keys these tests read; everything else passes through.
const Permissions = z.union([z.enum(['read-all', 'write-all']), z.record(z.string(), z.enum(['read', 'write', 'none']))]);
const Concurrency = z.union([z.string(), z.looseObject({ group: z.string(), 'cancel-in-progress': z.union([z.boolean(), z.string()]).optional() })]);
const Step = z.looseObject({ uses: z.string().optional(), run: z.string().optional(), with: z.record(z.string(), z.unknown()).optional() });
const Job = z.looseObject({
  if: z.string().optional(),
  needs: z.union([z.string(), z.array(z.string())]).optional(),
  environment: z.union([z.string(), z.looseObject({ name: z.string() })]).optional(),
  permissions: Permissions.optional(),
  concurrency: Concurrency.optional(),
  'timeout-minutes': z.number().optional(),
  steps: z.array(Step).default([]),
});
const Workflow = z.looseObject({
  name: z.string(),
  on: z.record(z.string(), z.unknown()),
  permissions: Permissions.optional(),
  concurrency: Concurrency.optional(),
  jobs: z.record(z.string(), Job),
});
type Workflow = z.infer<typeof Workflow>;
type Job = z.infer<typeof Job>;

async function workflowFiles(): Promise<string[]> {
  return (await readdir(workflowsDir)).filter((name) => /\.ya?ml$/.test(name)).sort();
}

async function load(name: string): Promise<{ text: string; workflow: Workflow }> {
  const text = await readFile(join(workflowsDir, name), 'utf8');
  return { text, workflow: Workflow.parse(parse(text)) };
}

function job(workflow: Workflow, id: string): Job {
  const found = workflow.jobs[id];
  if (!found) throw new Error(`no job ${id}; jobs: ${Object.keys(workflow.jobs).join(', ')}`);
  return found;
}

function grantsIdToken(permissions: Job['permissions']): boolean {
  return permissions === 'write-all' || (typeof permissions === 'object' && permissions['id-token'] === 'write');
}

function environmentOf(j: Job): string | undefined {
  return typeof j.environment === 'object' ? j.environment.name : j.environment;
}

function runs(j: Job): string[] {
  return j.steps.flatMap((step) => (step.run === undefined ? [] : [step.run.trim()]));
}

function usesOf(j: Job, action: string): z.infer<typeof Step>[] {
  return j.steps.filter((step) => step.uses?.split('@')[0] === action);
}

describe('GitHub workflows', () => {
  describe('actionlint', () => {
    let actionlint: string;

    beforeAll(async () => {
      // The linter is pinned in the same requirements file as moto; a fresh clone installs it here (about a minute).
      const venvDir = join(repo, '.venv');
      await ensureMotoVenv({ venvDir, log: (line) => process.stderr.write(`[venv] ${line}\n`) });
      actionlint = join(venvDir, 'bin', 'actionlint');
    }, 10 * 60_000);

    it('accepts every workflow without a finding', async () => {
      const files = (await workflowFiles()).map((name) => join('.github', 'workflows', name));
      expect(files).toEqual(expect.arrayContaining([join('.github', 'workflows', 'ci.yml'), join('.github', 'workflows', 'deploy.yml')]));
      // shellcheck and pyflakes are used only when on the PATH; off, the result is the same on every machine.
      const result = await run(actionlint, ['-no-color', '-shellcheck=', '-pyflakes=', ...files], { cwd: repo }).then(
        ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
        (error: unknown) => {
          const failed = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
          return { code: failed.code ?? -1, output: (failed.stdout ?? '') + (failed.stderr ?? '') || failed.message };
        },
      );
      expect(result).toEqual({ code: 0, output: '' });
    }, 60_000);
  });

  describe('permissions', () => {
    it('sets top-level permissions in every workflow, so none runs with the repository default token', async () => {
      for (const name of await workflowFiles()) {
        const { workflow } = await load(name);
        expect({ name, permissions: workflow.permissions }).toEqual({ name, permissions: expect.anything() as unknown });
      }
    });

    it('gives deploy.yml no permission at the top level', async () => {
      const { workflow } = await load('deploy.yml');
      expect(workflow.permissions).toEqual({});
    });

    it('gives ci.yml read access to the contents only', async () => {
      const { workflow } = await load('ci.yml');
      expect(workflow.permissions).toEqual({ contents: 'read' });
      for (const j of Object.values(workflow.jobs)) expect(j.permissions).toBeUndefined();
    });

    it('lets only the two deploy jobs request an OIDC token, with nothing else but reading the contents', async () => {
      const withIdToken: string[] = [];
      for (const name of await workflowFiles()) {
        const { workflow } = await load(name);
        for (const [id, j] of Object.entries(workflow.jobs)) {
          if (grantsIdToken(j.permissions ?? workflow.permissions)) withIdToken.push(`${name}:${id}`);
        }
      }
      expect(withIdToken.sort()).toEqual(['deploy.yml:deploy-dev', 'deploy.yml:deploy-prod']);
      const { workflow } = await load('deploy.yml');
      for (const id of ['deploy-dev', 'deploy-prod']) {
        expect(job(workflow, id).permissions).toEqual({ contents: 'read', 'id-token': 'write' });
      }
    });
  });

  describe('deploy.yml', () => {
    it('runs after ci succeeds on main, or by hand, and deploys the commit ci tested', async () => {
      const [{ workflow: deploy }, { workflow: ci }] = await Promise.all([load('deploy.yml'), load('ci.yml')]);
      expect(Object.keys(deploy.on).sort()).toEqual(['workflow_dispatch', 'workflow_run']);
      // workflow_run names the workflow by its name: renaming ci would silently stop every deploy.
      expect(deploy.on.workflow_run).toEqual({ workflows: [ci.name], types: ['completed'], branches: ['main'] });
      const dev = job(deploy, 'deploy-dev');
      expect(dev.if).toMatch(/github\.event\.workflow_run\.conclusion == 'success'/);
      // A fork's branch named main passes the branch filter; only a push to this repository may deploy.
      expect(dev.if).toMatch(/github\.event\.workflow_run\.event == 'push'/);
      expect(dev.if).toMatch(/github\.event\.workflow_run\.head_repository\.full_name == github\.repository/);
      for (const id of ['deploy-dev', 'deploy-prod']) {
        const checkouts = usesOf(job(deploy, id), 'actions/checkout');
        expect(checkouts).toHaveLength(1);
        expect(checkouts[0]!.with).toMatchObject({ ref: '${{ github.event.workflow_run.head_sha || github.sha }}', 'persist-credentials': false });
      }
    });

    it('deploys dev, then prod, each in its GitHub environment', async () => {
      const { workflow } = await load('deploy.yml');
      expect(Object.keys(workflow.jobs).sort()).toEqual(['deploy-dev', 'deploy-prod']);
      const dev = job(workflow, 'deploy-dev');
      const prod = job(workflow, 'deploy-prod');
      expect(environmentOf(dev)).toBe('dev');
      expect(environmentOf(prod)).toBe('prod');
      expect(dev.needs).toBeUndefined();
      expect([prod.needs].flat()).toEqual(['deploy-dev']);
      // Skipped or failed dev must skip prod: no always() or failure() lets it run regardless.
      expect(prod.if ?? '').not.toMatch(/always\(\)|failure\(\)|cancelled\(\)/);
      expect(runs(dev)).toEqual(['npm install --no-audit --no-fund', "npx cdk diff 'dev/*'", "npx cdk deploy 'dev/*' --require-approval never"]);
      expect(runs(prod)).toEqual(['npm install --no-audit --no-fund', "npx cdk diff 'prod/*'", "npx cdk deploy 'prod/*' --require-approval never"]);
    });

    it('never cancels a deploy in progress', async () => {
      const { workflow } = await load('deploy.yml');
      expect(workflow.concurrency).toBeUndefined();
      const groups = ['deploy-dev', 'deploy-prod'].map((id) => {
        const { concurrency, 'timeout-minutes': timeout } = job(workflow, id);
        expect(timeout).toBeGreaterThan(0);
        expect(concurrency).toMatchObject({ 'cancel-in-progress': false });
        return typeof concurrency === 'object' ? concurrency.group : concurrency;
      });
      expect(groups[0]).toMatch(/dev/);
      expect(groups[1]).toMatch(/prod/);
    });

    it('takes the role and region from variables, with no account id or ARN in the file', async () => {
      const { text, workflow } = await load('deploy.yml');
      expect(text).not.toMatch(/arn:aws/i);
      expect(text).not.toMatch(/\b\d{12}\b/);
      for (const id of ['deploy-dev', 'deploy-prod']) {
        const steps = usesOf(job(workflow, id), 'aws-actions/configure-aws-credentials');
        expect(steps).toHaveLength(1);
        expect(steps[0]!.with).toMatchObject({
          'role-to-assume': '${{ vars.AWS_DEPLOY_ROLE_ARN }}',
          'aws-region': "${{ vars.AWS_REGION || 'ap-southeast-1' }}",
        });
        expect(steps[0]!.with?.['role-session-name']).toMatch(/github\.run_id/);
      }
    });
  });

  describe('ci.yml', () => {
    it('runs .ci/run: install, lint, type-check, the tests, then the CDK synth with cdk-nag', async () => {
      const { workflow } = await load('ci.yml');
      expect(Object.keys(workflow.on).sort()).toEqual(['pull_request', 'push']);
      expect(workflow.on.push).toEqual({ branches: ['main'] });
      const all = Object.values(workflow.jobs).flatMap(runs);
      expect(all).toContain('bash .ci/run');
      const script = (await readFile(join(repo, '.ci', 'run'), 'utf8')).split('\n').filter((line) => line.startsWith('npm '));
      expect(script).toEqual(['npm install --no-audit --no-fund', 'npm run lint', 'npm run build', 'npm test', 'npm run synth']);
      expect(workflow.concurrency).toMatchObject({ 'cancel-in-progress': true });
    });
  });

  it('pins every action to a full commit SHA, with the version in a comment', async () => {
    for (const name of await workflowFiles()) {
      const { text } = await load(name);
      const uses = text.split('\n').filter((line) => /^\s*-?\s*uses:/.test(line));
      expect(uses.length).toBeGreaterThan(0);
      for (const line of uses) expect({ name, line }).toEqual({ name, line: expect.stringMatching(/uses: [\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/) as unknown });
    }
  });
});
