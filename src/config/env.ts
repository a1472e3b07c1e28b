/**
 * Environment overrides: `MMRB__RISK__MAXOPENORDERS=80` sets `risk.maxOpenOrders`. Path segments are
 * separated by double underscores and matched to the schema's keys case-insensitively (environment
 * variables are conventionally upper-case); the text is coerced to the type the schema expects there.
 * A variable that names no setting is an error, so a typo cannot silently leave the default in force.
 */
import * as z from 'zod';
import type { ConfigProblem } from './errors.js';
import { type Tree, dottedPath, isTree } from './tree.js';

export const ENV_PREFIX = 'MMRB__';
const SEPARATOR = '__';

export interface EnvOverride {
  readonly variable: string;
  /** Path with the schema's own spelling of each key. */
  readonly path: readonly string[];
  readonly value: unknown;
}

export interface EnvOverrides {
  readonly overrides: readonly EnvOverride[];
  readonly problems: readonly ConfigProblem[];
}

type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };
const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
const fail = <T>(message: string): Outcome<T> => ({ ok: false, message });

/**
 * Reads every `MMRB__` variable against the schema. `document` (the file's settings) is consulted only to
 * reuse the spelling of record keys, such as symbols, that the file already has.
 */
export function readEnvOverrides(env: Readonly<Record<string, string | undefined>>, schema: z.core.$ZodType, document: Tree): EnvOverrides {
  const overrides: EnvOverride[] = [];
  const problems: ConfigProblem[] = [];
  const setBy = new Map<string, string>();
  // Sorted so that problems, and which of two clashing variables wins, do not depend on the environment's order.
  for (const variable of Object.keys(env).filter((name) => name.startsWith(ENV_PREFIX)).sort()) {
    const text = env[variable];
    if (text === undefined) continue;
    const override = overrideFrom(variable, text, schema, document);
    if (!override.ok) {
      problems.push({ path: variable, message: override.message });
      continue;
    }
    const path = dottedPath(override.value.path);
    const earlier = setBy.get(path);
    if (earlier === undefined) {
      setBy.set(path, variable);
      overrides.push(override.value);
    } else {
      problems.push({ path: variable, message: `sets ${path}, which ${earlier} already sets` });
    }
  }
  return { overrides, problems };
}

function overrideFrom(variable: string, text: string, schema: z.core.$ZodType, document: Tree): Outcome<EnvOverride> {
  const target = resolvePath(schema, document, variable.slice(ENV_PREFIX.length).split(SEPARATOR));
  if (!target.ok) return target;
  const value = coerce(target.value.leaf, text);
  if (!value.ok) return fail(`${value.message} (setting ${dottedPath(target.value.path)})`);
  return ok({ variable, path: target.value.path, value: value.value });
}

interface Target {
  readonly path: string[];
  readonly leaf: z.core.$ZodType;
}

function resolvePath(root: z.core.$ZodType, document: Tree, segments: readonly string[]): Outcome<Target> {
  let schema = unwrap(root);
  let node: unknown = document;
  const path: string[] = [];
  for (const segment of segments) {
    if (segment === '') return fail('empty path segment: separate names with exactly two underscores');
    const child = childOf(schema, node, segment, path);
    if (!child.ok) return fail(`matches no setting: ${child.message}`);
    path.push(child.value.key);
    schema = child.value.schema;
    node = isTree(node) ? node[child.value.key] : undefined;
  }
  if (schema instanceof z.ZodObject || schema instanceof z.ZodRecord) {
    return fail(`${sectionName(path)} is a section, not a setting: name one of its settings`);
  }
  return ok({ path, leaf: schema });
}

interface Child {
  readonly key: string;
  readonly schema: z.core.$ZodType;
}

function childOf(schema: z.core.$ZodType, node: unknown, segment: string, path: readonly string[]): Outcome<Child> {
  if (schema instanceof z.ZodObject) {
    const shape: z.core.$ZodShape = schema.shape;
    const entry = Object.entries(shape).find(([key]) => sameKey(key, segment));
    return entry ? ok({ key: entry[0], schema: unwrap(entry[1]) }) : fail(`${sectionName(path)} has no key ${JSON.stringify(segment)}`);
  }
  if (schema instanceof z.ZodRecord) {
    const key = recordKey(schema, node, segment);
    return key === undefined
      ? fail(`${JSON.stringify(segment)} is not a valid key of ${sectionName(path)}`)
      : ok({ key, schema: unwrap(schema.valueType) });
  }
  return fail(`${sectionName(path)} is a setting, it has no ${JSON.stringify(segment)}`);
}

/** The file's spelling of an existing entry, else the first casing the key schema accepts (BTCUSDT). */
function recordKey(record: z.ZodRecord, node: unknown, segment: string): string | undefined {
  const existing = isTree(node) ? Object.keys(node).find((key) => sameKey(key, segment)) : undefined;
  if (existing !== undefined) return existing;
  return [segment, segment.toUpperCase(), segment.toLowerCase()].find((candidate) => z.safeParse(record.keyType, candidate).success);
}

const sameKey = (key: string, segment: string): boolean => key.toLowerCase() === segment.toLowerCase();
const sectionName = (path: readonly string[]): string => (path.length === 0 ? 'the top level' : dottedPath(path));

/** Strips the wrappers (default, prefault, optional) to the schema that says what the value is. */
function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  if (schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault || schema instanceof z.ZodOptional) return unwrap(schema.unwrap());
  return schema;
}

/**
 * Text to the schema's type. Every numeric setting is an integer (fractions are decimal strings), so
 * numbers are parsed as integers only; strings, enums, URLs and decimal strings stay text for the schema
 * to validate.
 */
function coerce(leaf: z.core.$ZodType, text: string): Outcome<unknown> {
  if (leaf instanceof z.ZodNumber) return coerceInteger(text);
  if (leaf instanceof z.ZodBoolean) return coerceBoolean(text);
  if (leaf instanceof z.ZodArray) return coerceList(unwrap(leaf.element), text);
  return ok(text);
}

const INTEGER = /^-?\d+$/;

function coerceInteger(text: string): Outcome<number> {
  const value = Number(text);
  if (!INTEGER.test(text) || !Number.isSafeInteger(value)) return fail(`expected an integer, got ${JSON.stringify(text)}`);
  return ok(value);
}

function coerceBoolean(text: string): Outcome<boolean> {
  if (text === 'true') return ok(true);
  if (text === 'false') return ok(false);
  return fail(`expected true or false, got ${JSON.stringify(text)}`);
}

/** Comma-separated elements, e.g. `1000,5000,30000`; an empty string is an empty list. */
function coerceList(element: z.core.$ZodType, text: string): Outcome<unknown[]> {
  const parts = text.trim() === '' ? [] : text.split(',').map((part) => part.trim());
  const values: unknown[] = [];
  for (const part of parts) {
    const value = coerce(element, part);
    if (!value.ok) return fail(`${value.message} in the comma-separated list`);
    values.push(value.value);
  }
  return ok(values);
}
