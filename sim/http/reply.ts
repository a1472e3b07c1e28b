/** Building Bybit replies in route handlers: success, failure, and parameters parsed with zod. */
import type * as z from 'zod';
import { type Failure, type Outcome, RET, failure, success } from '../exchange/errors.js';
import { describeIssue } from './params.js';
import type { Reply } from './routes.js';

export function ok(result: unknown, retExtInfo: unknown = {}): Reply {
  return { retCode: 0, retMsg: 'OK', result, retExtInfo };
}

/** The /v5/user/* endpoints answer success with an empty retMsg (sim/reference/bybit-v5-rest.md §6). */
export function okUser(result: unknown): Reply {
  return { retCode: 0, retMsg: '', result, retExtInfo: {} };
}

export function fail(outcome: Failure): Reply {
  return { retCode: outcome.retCode, retMsg: outcome.retMsg, result: {}, retExtInfo: {} };
}

/** Validates request parameters; a mismatch is Bybit's 10001 naming the field. */
export function parse<T extends z.ZodType>(schema: T, params: Record<string, unknown>): Outcome<z.output<T>> {
  const parsed = schema.safeParse(params);
  return parsed.success ? success(parsed.data) : failure(RET.paramError, describeIssue(parsed.error));
}
