import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export type ProcessRole = 'api' | 'worker' | 'start' | 'migrate' | 'cli' | 'test' | 'bench';

// Paths pino blanks out wherever they appear in a log line. Secrets reach logs through request
// headers, configuration objects and error contexts; listing them here means no call site has to
// remember. See https://getpino.io/#/docs/redaction for the path syntax.
export const REDACTED_PATHS = [
  'token',
  '*.token',
  'secret',
  '*.secret',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers["x-hub-signature"]',
  'headers["x-hub-signature-256"]',
  'req.headers.authorization',
  'req.headers["x-hub-signature"]',
  'req.headers["x-hub-signature-256"]',
  'request.headers.authorization',
  'config.GITHUB_TOKEN',
  'config.GITHUB_WEBHOOK_SECRET',
  'config.API_TOKENS',
  'config.METRICS_TOKEN',
  'config.DATABASE_URL',
  'GITHUB_TOKEN',
  'GITHUB_WEBHOOK_SECRET',
  'API_TOKENS',
  'METRICS_TOKEN',
];

/** One logger per process, with the process role bound to every line. JSON lines on stdout. */
export function createLogger(role: ProcessRole, level: string = 'info', destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    base: { role, pid: process.pid },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination === undefined ? pino(options) : pino(options, destination as pino.DestinationStream);
}

/** Shows a URL without its password (in user:password@ and in ?password=), also one that does not parse. */
export function redactUrl(url: string): string {
  if (URL.canParse(url)) {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
    return parsed.toString();
  }
  // Not a URL (a malformed setting, shown to say what is wrong with it): everything between the
  // first `:` after `//` and the last `@` may be password, and so may a `password=` parameter.
  return url.replace(/^([^/]*\/\/[^:@/]*):.*@/, '$1:***@').replace(/([?&]password=)[^&]*/gi, '$1***');
}
