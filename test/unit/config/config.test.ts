import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, type LoadedConfig, formatConfig, loadConfig } from '../../../src/config/config.js';

const btc = { orderQty: '0.001', maxPosition: '0.01', maxNotional: '1000' };
const minimal = { shard: 'shard-a', venue: { credentialsSecretId: 'mmrb/local/trading-key' }, symbols: { BTCUSDT: btc } };

function load(file: unknown, env: Record<string, string | undefined> = {}): LoadedConfig {
  return loadConfig({ file: 'engine.json', fileText: JSON.stringify(file), env });
}

/** The problems a failing load reports, as `path: message` lines. */
function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) expect(error.message).toContain(`${problem.path}: ${problem.message}`);
    return error.problems.map((problem) => `${problem.path}: ${problem.message}`);
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  it('fills every setting the file leaves out, and says so', () => {
    const { config, sources } = load(minimal);
    expect(config.stage).toBe('local');
    expect(config.region).toBe('ap-southeast-1');
    expect(config.venue).toEqual({
      restUrl: 'https://api.bybit.com',
      wsPublicUrl: 'wss://stream.bybit.com/v5/public/linear',
      wsPrivateUrl: 'wss://stream.bybit.com/v5/private',
      wsTradeUrl: 'wss://stream.bybit.com/v5/trade',
      recvWindowMs: 5000,
      credentialsSecretId: 'mmrb/local/trading-key',
      credentialsCacheTtlMs: 60_000,
      dcpWindowSeconds: 10,
      ipRequestBudgetPer5s: 600,
      tasksSharingIp: 1,
    });
    expect(config.symbols.BTCUSDT).toEqual({
      enabled: true,
      orderQty: '0.001',
      levels: 1,
      levelSpacingBps: '1',
      minEdgeBps: '0.5',
      volatilityHalfLifeMs: 30_000,
      volatilitySpreadMultiplier: '1.5',
      inventorySkewBps: '2',
      maxPosition: '0.01',
      maxNotional: '1000',
      refreshToleranceTicks: 2,
      fastCancelTicks: 3,
      priceBandBps: '50',
      fairValue: 'microprice',
      staleBookMs: 2000,
    });
    expect(config.risk).toEqual({
      maxOpenOrders: 50,
      ordersPerSecond: 8,
      maxOrderQtyMultiple: '5',
      edgeCollapseBps: '-1',
      edgeWindowFills: 200,
      markoutHorizonsMs: [1000, 5000, 30_000],
      maxDrawdown: '500',
      edgeCollapseMinNotional: '25000',
    });
    expect(config.router).toEqual({
      requestTimeoutMs: 2000,
      maxRetries: 3,
      backoffBaseMs: 100,
      backoffMaxMs: 2000,
      breakerFailures: 5,
      breakerCooldownMs: 10_000,
      preferWebSocket: true,
      rateLimitHeadroomPercent: 20,
    });
    expect(config.engine).toEqual({ healthPort: 8080, stopTimeoutMs: 20_000, statusIntervalMs: 1000, cancelUnknownOrders: true, busyPoll: false, logLevel: 'info', metricsIntervalMs: 60_000 });
    expect(sources.get('risk.maxOpenOrders')).toBe('default');
    expect(sources.get('symbols.BTCUSDT.levels')).toBe('default');
    expect(sources.get('symbols.BTCUSDT.orderQty')).toBe('file');
    expect(sources.get('venue.credentialsSecretId')).toBe('file');
    expect(sources.get('shard')).toBe('file');
  });

  it('records a source for every leaf, and nothing else, in sorted order', () => {
    const { sources } = load(minimal);
    const paths = [...sources.keys()];
    expect(paths).toEqual([...paths].sort());
    // 3 top-level settings, 10 venue, 15 per symbol, 8 risk, 8 router, 7 engine, 9 persistence, 3 lease, 3 control.
    expect(paths).toHaveLength(3 + 10 + 15 + 8 + 8 + 7 + 9 + 3 + 3);
    expect(paths).toContain('risk.markoutHorizonsMs');
    expect(paths).not.toContain('risk.markoutHorizonsMs.0');
  });

  it('does not share default arrays between loads', () => {
    const first = load(minimal).config;
    first.risk.markoutHorizonsMs.push(1);
    expect(load(minimal).config.risk.markoutHorizonsMs).toEqual([1000, 5000, 30_000]);
  });
});

describe('file', () => {
  it('overrides defaults', () => {
    const { config, sources } = load({
      ...minimal,
      stage: 'prod',
      risk: { maxOpenOrders: 80, markoutHorizonsMs: [2000] },
      engine: { cancelUnknownOrders: false },
      symbols: { BTCUSDT: { ...btc, fairValue: 'mid', minEdgeBps: '-0.25' } },
    });
    expect(config.stage).toBe('prod');
    expect(config.risk.maxOpenOrders).toBe(80);
    expect(config.risk.ordersPerSecond).toBe(8);
    expect(config.risk.markoutHorizonsMs).toEqual([2000]);
    expect(config.engine.cancelUnknownOrders).toBe(false);
    expect(config.symbols.BTCUSDT?.fairValue).toBe('mid');
    expect(config.symbols.BTCUSDT?.minEdgeBps).toBe('-0.25');
    expect(sources.get('stage')).toBe('file');
    expect(sources.get('risk.maxOpenOrders')).toBe('file');
    expect(sources.get('risk.markoutHorizonsMs')).toBe('file');
    expect(sources.get('risk.ordersPerSecond')).toBe('default');
    expect(sources.get('symbols.BTCUSDT.fairValue')).toBe('file');
  });

  it('is read from disk when only its path is given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmrb-config-'));
    try {
      const file = join(dir, 'engine.json');
      writeFileSync(file, JSON.stringify(minimal));
      expect(loadConfig({ file, env: {} }).config.shard).toBe('shard-a');
      expect(problemsOf(() => loadConfig({ file: join(dir, 'missing.json'), env: {} }))).toEqual([
        expect.stringMatching(new RegExp(`^${join(dir, 'missing.json')}: cannot read the configuration file: .*ENOENT`)),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('malformed JSON is an error naming the file', () => {
    const problems = problemsOf(() => loadConfig({ file: 'conf/engine.json', fileText: '{ "shard": "a", ', env: {} }));
    expect(problems).toEqual([expect.stringMatching(/^conf\/engine\.json: not valid JSON: /)]);
    expect(problemsOf(() => loadConfig({ file: 'conf/engine.json', fileText: '[1, 2]', env: {} }))).toEqual([
      'conf/engine.json: expected a JSON object at the top level',
    ]);
  });

  it('refuses JSON numbers for decimal settings, which would have been floats', () => {
    const problems = problemsOf(() => load({ ...minimal, symbols: { BTCUSDT: { ...btc, orderQty: 0.001 } } }));
    expect(problems).toEqual(['symbols.BTCUSDT.orderQty: expected a decimal string such as "0.25" (quoted, so it stays exact)']);
  });
});

describe('environment overrides', () => {
  it('override the file, coerced to the schema type', () => {
    const { config, sources } = load(
      { ...minimal, risk: { maxOpenOrders: 80 }, router: { preferWebSocket: true } },
      {
        MMRB__RISK__MAXOPENORDERS: '90',
        MMRB__ROUTER__PREFERWEBSOCKET: 'false',
        MMRB__SYMBOLS__BTCUSDT__ORDERQTY: '0.002',
        MMRB__RISK__MARKOUTHORIZONSMS: '500, 2000,60000',
        MMRB__risk__maxDrawdown: '250.5',
        MMRB__ENGINE__HEALTHPORT: '0',
        PATH: '/usr/bin',
        MMRB_CONFIG: 'ignored: one underscore is not the prefix',
        MMRB__STAGE: undefined,
      },
    );
    expect(config.risk.maxOpenOrders).toBe(90);
    expect(config.router.preferWebSocket).toBe(false);
    expect(config.symbols.BTCUSDT?.orderQty).toBe('0.002');
    expect(config.risk.markoutHorizonsMs).toEqual([500, 2000, 60_000]);
    expect(config.risk.maxDrawdown).toBe('250.5');
    expect(config.engine.healthPort).toBe(0);
    expect(config.stage).toBe('local');
    expect(sources.get('risk.maxOpenOrders')).toBe('env:MMRB__RISK__MAXOPENORDERS');
    expect(sources.get('router.preferWebSocket')).toBe('env:MMRB__ROUTER__PREFERWEBSOCKET');
    expect(sources.get('symbols.BTCUSDT.orderQty')).toBe('env:MMRB__SYMBOLS__BTCUSDT__ORDERQTY');
    expect(sources.get('risk.markoutHorizonsMs')).toBe('env:MMRB__RISK__MARKOUTHORIZONSMS');
    expect(sources.get('risk.maxDrawdown')).toBe('env:MMRB__risk__maxDrawdown');
    expect(sources.get('symbols.BTCUSDT.maxPosition')).toBe('file');
  });

  it('can supply the whole configuration without a file', () => {
    const { config, sources } = loadConfig({
      env: {
        MMRB__SHARD: 'shard-b',
        MMRB__VENUE__CREDENTIALSSECRETID: 'mmrb/dev/trading-key',
        MMRB__SYMBOLS__ethusdt__ORDERQTY: '0.01',
        MMRB__SYMBOLS__ETHUSDT__MAXPOSITION: '0.1',
        MMRB__SYMBOLS__ETHUSDT__MAXNOTIONAL: '500',
      },
    });
    expect(Object.keys(config.symbols)).toEqual(['ETHUSDT']);
    expect(config.symbols.ETHUSDT?.orderQty).toBe('0.01');
    expect(sources.get('symbols.ETHUSDT.orderQty')).toBe('env:MMRB__SYMBOLS__ethusdt__ORDERQTY');
    expect(sources.get('shard')).toBe('env:MMRB__SHARD');
  });

  it('a variable whose path matches no setting is an error naming the variable', () => {
    const problems = problemsOf(() =>
      load(minimal, {
        MMRB__RISK__MAXOPENORDER: '80',
        MMRB__NOPE: 'x',
        MMRB__RISK: '1',
        MMRB__RISK__MAXOPENORDERS__MORE: '1',
        MMRB__SYMBOLS__BTC_USDT__ORDERQTY: '1',
        MMRB__RISK____MAXOPENORDERS: '1',
      }),
    );
    expect(problems).toEqual([
      'MMRB__NOPE: matches no setting: the top level has no key "NOPE"',
      'MMRB__RISK: risk is a section, not a setting: name one of its settings',
      'MMRB__RISK__MAXOPENORDER: matches no setting: risk has no key "MAXOPENORDER"',
      'MMRB__RISK__MAXOPENORDERS__MORE: matches no setting: risk.maxOpenOrders is a setting, it has no "MORE"',
      'MMRB__RISK____MAXOPENORDERS: empty path segment: separate names with exactly two underscores',
      'MMRB__SYMBOLS__BTC_USDT__ORDERQTY: matches no setting: "BTC_USDT" is not a valid key of symbols',
    ]);
  });

  it('text that does not fit the type is an error naming the variable and the setting', () => {
    const problems = problemsOf(() =>
      load(minimal, {
        MMRB__RISK__MAXOPENORDERS: '80.5',
        MMRB__ROUTER__PREFERWEBSOCKET: 'yes',
        MMRB__RISK__MARKOUTHORIZONSMS: '1000,soon',
        MMRB__ENGINE__HEALTHPORT: '99999999999999999999',
      }),
    );
    expect(problems).toEqual([
      'MMRB__ENGINE__HEALTHPORT: expected an integer, got "99999999999999999999" (setting engine.healthPort)',
      'MMRB__RISK__MARKOUTHORIZONSMS: expected an integer, got "soon" in the comma-separated list (setting risk.markoutHorizonsMs)',
      'MMRB__RISK__MAXOPENORDERS: expected an integer, got "80.5" (setting risk.maxOpenOrders)',
      'MMRB__ROUTER__PREFERWEBSOCKET: expected true or false, got "yes" (setting router.preferWebSocket)',
    ]);
  });

  it('two variables for the same setting are an error', () => {
    const problems = problemsOf(() => load(minimal, { MMRB__RISK__MAXOPENORDERS: '80', MMRB__risk__maxOpenOrders: '90' }));
    expect(problems).toEqual(['MMRB__risk__maxOpenOrders: sets risk.maxOpenOrders, which MMRB__RISK__MAXOPENORDERS already sets']);
  });

  it('a bad value set by a variable names the setting and the variable', () => {
    const problems = problemsOf(() => load(minimal, { MMRB__VENUE__DCPWINDOWSECONDS: '2' }));
    expect(problems).toEqual(['venue.dcpWindowSeconds: Too small: expected number to be >=3 (from env:MMRB__VENUE__DCPWINDOWSECONDS)']);
  });
});

describe('symbolDefaults', () => {
  const file = {
    ...minimal,
    symbolDefaults: { levels: 3, maxPosition: '0.05', maxNotional: '5000', fairValue: 'mid' },
    symbols: { BTCUSDT: { orderQty: '0.001', levels: 2 }, ETHUSDT: { orderQty: '0.01', maxNotional: '2000' } },
  };

  it('are merged under each symbol, whose own values win', () => {
    const { config, sources } = load(file);
    expect(config.symbols.BTCUSDT).toMatchObject({ orderQty: '0.001', levels: 2, maxPosition: '0.05', maxNotional: '5000', fairValue: 'mid' });
    expect(config.symbols.ETHUSDT).toMatchObject({ orderQty: '0.01', levels: 3, maxPosition: '0.05', maxNotional: '2000', fairValue: 'mid' });
    expect(config).not.toHaveProperty('symbolDefaults');
    expect(sources.get('symbols.BTCUSDT.levels')).toBe('file');
    expect(sources.get('symbols.ETHUSDT.levels')).toBe('file:symbolDefaults');
    expect(sources.get('symbols.BTCUSDT.maxNotional')).toBe('file:symbolDefaults');
    expect(sources.get('symbols.ETHUSDT.maxNotional')).toBe('file');
    expect(sources.get('symbols.ETHUSDT.staleBookMs')).toBe('default');
    expect([...sources.keys()].some((path) => path.startsWith('symbolDefaults'))).toBe(false);
  });

  it('can be set from the environment, still under each symbol own values', () => {
    const { config, sources } = load(file, { MMRB__SYMBOLDEFAULTS__LEVELS: '4', MMRB__SYMBOLDEFAULTS__STALEBOOKMS: '500' });
    expect(config.symbols.BTCUSDT?.levels).toBe(2);
    expect(config.symbols.ETHUSDT?.levels).toBe(4);
    expect(config.symbols.BTCUSDT?.staleBookMs).toBe(500);
    expect(sources.get('symbols.ETHUSDT.levels')).toBe('env:MMRB__SYMBOLDEFAULTS__LEVELS');
    expect(sources.get('symbols.BTCUSDT.staleBookMs')).toBe('env:MMRB__SYMBOLDEFAULTS__STALEBOOKMS');
    expect(sources.get('symbols.BTCUSDT.levels')).toBe('file');
  });

  it('a bad default is reported once, where it was written', () => {
    const problems = problemsOf(() => load({ ...file, symbolDefaults: { ...file.symbolDefaults, levels: 9, bogus: 1 } }));
    expect(problems).toEqual(['symbolDefaults.bogus: unknown key', 'symbolDefaults.levels: Too big: expected number to be <=5']);
  });

  it('a value inherited from symbolDefaults says so when it is wrong for the symbol', () => {
    const problems = problemsOf(() => load({ ...minimal, symbolDefaults: { orderQty: '1' }, symbols: { BTCUSDT: { maxPosition: '0.01', maxNotional: '1000' } } }));
    expect(problems).toEqual(['symbols.BTCUSDT.orderQty: orderQty must not exceed maxPosition (from file:symbolDefaults)']);
  });
});

describe('errors', () => {
  it('an unknown key is named by its full path', () => {
    const problems = problemsOf(() =>
      load({ ...minimal, bogus: true, risk: { maxOpenOrder: 80 }, symbols: { BTCUSDT: { ...btc, orderQtty: '1' } } }),
    );
    expect(problems).toEqual(['bogus: unknown key', 'risk.maxOpenOrder: unknown key', 'symbols.BTCUSDT.orderQtty: unknown key']);
  });

  it('bad values are all reported, each by path', () => {
    const problems = problemsOf(() =>
      load({
        ...minimal,
        venue: { ...minimal.venue, dcpWindowSeconds: 2, restUrl: 'ftp://example.com' },
        symbols: { BTCUSDT: { ...btc, maxPosition: '-1', orderQty: '0.1.2', levels: 6, fairValue: 'last' }, btcusdt: btc },
      }),
    );
    expect(problems).toEqual([
      'symbols.BTCUSDT.fairValue: Invalid option: expected one of "mid"|"microprice"',
      'symbols.BTCUSDT.levels: Too big: expected number to be <=5',
      'symbols.BTCUSDT.maxPosition: expected a decimal > 0',
      'symbols.BTCUSDT.orderQty: expected a decimal string such as "0.25" (quoted, so it stays exact)',
      'symbols.btcusdt: invalid key: expected an upper-case symbol such as BTCUSDT',
      'venue.dcpWindowSeconds: Too small: expected number to be >=3',
      'venue.restUrl: Invalid URL',
    ]);
  });

  it('a missing required setting is named', () => {
    const problems = problemsOf(() => load({ venue: {}, symbols: { BTCUSDT: { maxNotional: '1000' } } }));
    expect(problems).toEqual([
      'shard: required',
      'symbols.BTCUSDT.maxPosition: required',
      'symbols.BTCUSDT.orderQty: required',
      'venue.credentialsSecretId: required',
    ]);
    expect(problemsOf(() => load({ shard: 'a', venue: minimal.venue, symbols: {} }))).toEqual(['symbols: expected at least one symbol']);
    expect(problemsOf(() => loadConfig({ env: {} }))).toEqual(['shard: required', 'symbols: required', 'venue: required']);
  });

  it('checks settings against each other', () => {
    const problems = problemsOf(() =>
      load({ ...minimal, router: { backoffBaseMs: 500, backoffMaxMs: 100 }, symbols: { BTCUSDT: { ...btc, orderQty: '0.02' } } }),
    );
    expect(problems).toEqual([
      'router.backoffMaxMs: backoffMaxMs must be >= backoffBaseMs',
      'symbols.BTCUSDT.orderQty: orderQty must not exceed maxPosition',
    ]);
  });
});

describe('formatConfig', () => {
  it('prints one sorted line per leaf with its value and source', () => {
    const result = load(
      { ...minimal, symbolDefaults: { levels: 2 }, risk: { maxOpenOrders: 80 } },
      { MMRB__SYMBOLS__BTCUSDT__ORDERQTY: '0.002' },
    );
    const lines = formatConfig(result).split('\n');
    expect(lines).toHaveLength(result.sources.size);
    expect(lines).toEqual([...lines].sort());
    for (const line of lines) expect(line).toMatch(/^[A-Za-z0-9.]+ = \S.* {2}\((default|file|file:symbolDefaults|env:MMRB__\w+)\)$/);
    expect(lines).toContain('symbols.BTCUSDT.orderQty = "0.002"  (env:MMRB__SYMBOLS__BTCUSDT__ORDERQTY)');
    expect(lines).toContain('symbols.BTCUSDT.levels = 2  (file:symbolDefaults)');
    expect(lines).toContain('risk.maxOpenOrders = 80  (file)');
    expect(lines).toContain('risk.markoutHorizonsMs = [1000,5000,30000]  (default)');
    expect(lines).toContain('venue.credentialsSecretId = "mmrb/local/trading-key"  (file)');
    expect(lines[0]).toBe('control.heartbeatIntervalMs = 5000  (default)');
  });
});
