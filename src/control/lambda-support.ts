/**
 * What both control-plane Lambdas build the same way: the logger port on a Powertools Logger (which
 * carries the Lambda context on every line), and the venue canceller on the trading key of the settings.
 */
import type { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RestVenueCanceller } from '../adapters/bybit/venue-canceller.js';
import { CredentialsProvider } from '../adapters/secrets/bybit-credentials.js';
import type { Logger } from '../ports/logger.js';
import type { ControlSettings } from './settings.js';

/** How long the trading key is served from the cache before Secrets Manager is asked again (a rotation is seen within it, or at once on an auth error). */
const CREDENTIALS_TTL_MS = 5 * 60_000;
/** Tries of a cancel-all per symbol. */
const CANCEL_ATTEMPTS = 3;

export const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The project's logger port on a Powertools Logger. */
export function portLogger(logger: PowertoolsLogger): Logger {
  return {
    debug: (message, fields) => logger.debug(message, { ...fields }),
    info: (message, fields) => logger.info(message, { ...fields }),
    warn: (message, fields) => logger.warn(message, { ...fields }),
    error: (message, fields) => logger.error(message, { ...fields }),
  };
}

/** Cancels at the venue with the trading key named by the settings, read from Secrets Manager. */
export function venueCancellerOf(settings: ControlSettings, secrets: SecretsManagerClient, logger: Logger, sleep: (ms: number) => Promise<void>): RestVenueCanceller {
  return new RestVenueCanceller({
    credentials: new CredentialsProvider({ client: secrets, secretId: settings.venue.credentialsSecretId, ttlMs: CREDENTIALS_TTL_MS, logger }),
    restUrl: settings.venue.restUrl,
    recvWindowMs: settings.venue.recvWindowMs,
    attempts: CANCEL_ATTEMPTS,
    sleep,
  });
}
