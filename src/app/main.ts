/**
 * The engine's command line, as the container runs it:
 *
 *   main.ts --config <file.json> [--print-config] [--status-lines]
 *
 * Configuration: the file, then MMRB__ environment overrides (see src/config). `--print-config` prints
 * every effective value with its source and exits. SIGTERM or SIGINT stops gracefully: quoting stops,
 * everything is cancelled and confirmed, then the process exits (0 when the venue lists no open order,
 * 1 otherwise), at the latest after the configured stop timeout. A bug that escapes every handler (an
 * uncaught exception or an unhandled rejection) is logged and stops the engine the same way, as the best
 * effort to leave nothing open at the venue, then exits 1: the process is not to be trusted any longer.
 * A rotated trading key needs no restart: the engine swaps it in while it trades (src/app/key-swap.ts).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { parseArgs } from 'node:util';
import { ConfigError, formatConfig, loadConfig } from '../config/config.js';
import { type EngineProcess, secretsManagerCredentials, startEngineProcess } from './engine-process.js';
import { StandbyAbortedError } from './lease-keeper.js';
import { statusLines } from './status-line.js';

/** Exit codes: 0 stopped clean, 1 stopped with doubts or failed, 2 bad configuration or usage. */
const EXIT_USAGE = 2;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, 'print-config': { type: 'boolean' }, 'status-lines': { type: 'boolean' } } });
  let loaded;
  try {
    loaded = loadConfig({ ...(values.config !== undefined && { file: values.config }), env: process.env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return EXIT_USAGE;
  }
  if (values['print-config']) {
    console.log(formatConfig(loaded));
    return 0;
  }
  const { config } = loaded;
  const secrets = new SecretsManagerClient({ region: config.region });
  const aws = { dynamodb: new DynamoDBClient({ region: config.region }), eventBridge: new EventBridgeClient({ region: config.region }), sqs: new SQSClient({ region: config.region }) };
  const closeClients = (): void => {
    secrets.destroy();
    aws.dynamodb.destroy();
    aws.eventBridge.destroy();
    aws.sqs.destroy();
  };
  // A stop requested while this process waits as a standby ends the wait: it never traded.
  const standby = new AbortController();
  const started: { process?: EngineProcess } = {};
  let stopRequested: string | undefined;
  const fate = { failed: false };
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (signal: string) => {
      if (stopRequested !== undefined) return;
      stopRequested = signal;
      // Past the stop timeout, exit anyway: disconnect-cancel covers what is left at the venue.
      setTimeout(() => {
        resolve(1);
      }, config.engine.stopTimeoutMs + 5_000).unref();
      // A signal during start is honoured once the engine is up (it may already have quotes out).
      standby.abort();
      if (!started.process) return;
      void started.process.stop(signal).then(
        (report) => {
          resolve(report.clean && !fate.failed ? 0 : 1);
        },
        () => {
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => {
      onSignal('SIGTERM');
    });
    process.on('SIGINT', () => {
      onSignal('SIGINT');
    });
    const onFatal = (what: string, error: unknown) => {
      fate.failed = true;
      const fields = { what, error: error instanceof Error ? error.message : String(error), stack: error instanceof Error ? error.stack : undefined };
      // The engine's logger redacts the key; before it exists there is no key to leak.
      if (started.process) started.process.logger.error('fatal: a bug escaped every handler; stopping the engine', fields);
      else console.error(JSON.stringify({ level: 'error', message: 'fatal: a bug escaped every handler', what, error: fields.error }));
      // During the start, the stop comes as soon as the engine is up, as for a signal.
      onSignal(`fatal ${what}`);
    };
    process.on('uncaughtException', (error) => {
      onFatal('uncaught exception', error);
    });
    process.on('unhandledRejection', (reason) => {
      onFatal('unhandled rejection', reason);
    });
  });

  let process_: EngineProcess;
  try {
    process_ = await startEngineProcess({
      config,
      credentials: secretsManagerCredentials(config, secrets),
      ...(config.persistence.enabled && { aws }),
      signal: standby.signal,
      onLeaseLost: () => {
        // Another generation may be trading: stop (own orders only) and exit 1; the orchestrator restarts
        // this one, which then waits as a standby.
        fate.failed = true;
        process.kill(process.pid, 'SIGTERM');
      },
    });
  } catch (error) {
    if (!(error instanceof StandbyAbortedError)) throw error;
    console.error(JSON.stringify({ level: 'INFO', message: 'stopped while waiting as a standby; never traded', stop: stopRequested }));
    closeClients();
    return 0;
  }
  started.process = process_;
  if (stopRequested !== undefined) {
    const report = await process_.stop(stopRequested);
    closeClients();
    return report.clean && !fate.failed ? 0 : 1;
  }
  if (values['status-lines']) {
    const timer = setInterval(() => {
      for (const line of statusLines(process_.engine.status(), new Date())) process.stderr.write(`${line}\n`);
    }, config.engine.statusIntervalMs);
    timer.unref();
  }
  const code = await stopped;
  closeClients();
  return code;
}

main().then(
  (code) => {
    process.exit(code);
  },
  (error: unknown) => {
    console.error(JSON.stringify({ level: 'error', message: 'engine failed', error: error instanceof Error ? error.message : String(error) }));
    process.exit(1);
  },
);
