/**
 * Runs in every integration worker before its tests. Points every AWS SDK client that is built without
 * an explicit endpoint at the emulator too, with dummy credentials, so no test can ever reach real AWS.
 */
import { MOTO_ENV } from './moto-env.js';

const endpoint = process.env[MOTO_ENV.endpoint];
if (!endpoint) throw new Error(`${MOTO_ENV.endpoint} is not set: the integration project's globalSetup did not run`);

process.env.AWS_ENDPOINT_URL = endpoint;
process.env.AWS_REGION = 'ap-southeast-1';
process.env.AWS_ACCESS_KEY_ID = 'testing';
process.env.AWS_SECRET_ACCESS_KEY = 'testing';
process.env.AWS_EC2_METADATA_DISABLED = 'true';
delete process.env.AWS_PROFILE;
delete process.env.AWS_SESSION_TOKEN;
