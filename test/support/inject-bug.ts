/**
 * Loaded with `--import` into an engine process by a test (never by the product): once the engine has
 * had time to quote, a bug that escapes every handler, as an uncaught exception.
 */
const afterMs = Number(process.env.MMRB_TEST_BUG_AFTER_MS ?? '8000');
setTimeout(() => {
  throw new Error('an injected bug');
}, afterMs).unref();
