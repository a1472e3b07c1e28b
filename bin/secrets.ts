/**
 * `npm run secrets -- <command>`: the operator's command line for the trading key (src/control/secrets-cli.ts,
 * docs/runbooks/SECRET_ROTATION.md). `npm run secrets -- --help` lists the commands.
 */
import { text } from 'node:stream/consumers';
import { awsRotationControl, httpRotationControl } from '../src/control/rotation-control.js';
import { main } from '../src/control/secrets-cli.js';

process.exitCode = await main(process.argv.slice(2), {
  env: process.env,
  stdout: (line) => process.stdout.write(line),
  stderr: (line) => process.stderr.write(line),
  stdin: () => text(process.stdin),
  control: (target) => (target.kind === 'aws' ? awsRotationControl(target) : httpRotationControl(target.url)),
});
