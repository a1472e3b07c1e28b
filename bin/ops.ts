/**
 * `npm run ops -- <command>`: the operator's command line for the freeze API (src/control/ops-cli.ts,
 * docs/FREEZE_API.md). `npm run ops -- --help` lists the commands.
 */
import { main } from '../src/control/ops-cli.js';

process.exitCode = await main(process.argv.slice(2), {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
