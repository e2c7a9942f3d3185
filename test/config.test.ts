import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bearerToken } from '../src/bearer-token.ts';
import { loadConfig } from '../src/config.ts';
import { ConfigError } from '../src/errors.ts';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

test('an empty environment gives the documented defaults', () => {
  const config = loadConfig({});
  assert.is(config.PORT, 8080);
  assert.is(config.GITHUB_API_URL, 'https://api.github.com');
  assert.is(config.SYNC_SCHEDULE, '*/15 * * * *');
  assert.is(config.LOG_LEVEL, 'info');
  assert.is(config.PRODUCTS_FILE, 'products.example.json');
  assert.equal(config.API_TOKENS, []);
  assert.is(config.DATABASE_URL, undefined);
  assert.is(config.GITHUB_TOKEN, undefined);
  assert.is(config.GITHUB_WEBHOOK_SECRET, undefined);
  assert.is(config.WEBHOOK_RETENTION_DAYS, 30);
});

test('values are parsed and normalised', () => {
  const config = loadConfig({
    DATABASE_URL: 'postgres://u:p@db:5432/registry',
    PORT: '0',
    GITHUB_API_URL: 'http://127.0.0.1:9999/',
    API_TOKENS: ' aaaaaaaaaaaaaaaa , bbbbbbbbbbbbbbbbbbbb ,',
    LOG_LEVEL: 'DEBUG',
    SYNC_SCHEDULE: '0 * * * *',
    GITHUB_WEBHOOK_SECRET: '  ',
  });
  assert.is(config.DATABASE_URL, 'postgres://u:p@db:5432/registry');
  assert.is(config.PORT, 0);
  assert.is(config.GITHUB_API_URL, 'http://127.0.0.1:9999');
  assert.equal(config.API_TOKENS, ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbbbbbb']);
  assert.is(config.LOG_LEVEL, 'debug');
  assert.is(config.GITHUB_WEBHOOK_SECRET, undefined, 'a blank secret means "not configured"');
});

test('a malformed PORT names the variable and the value', () => {
  const error = configError({ PORT: 'abc' });
  assert.is(error.variable, 'PORT');
  assert.match(error.message, /^PORT: expected an integer from 0 to 65535 \(got "abc"\)$/);
  assert.is(configError({ PORT: '70000' }).variable, 'PORT');
  assert.is(configError({ PORT: '-1' }).variable, 'PORT');
});

test('each variable is validated', () => {
  assert.is(configError({ DATABASE_URL: 'mysql://x' }).variable, 'DATABASE_URL');
  assert.is(configError({ GITHUB_API_URL: 'not a url' }).variable, 'GITHUB_API_URL');
  assert.is(configError({ SYNC_SCHEDULE: 'every hour' }).variable, 'SYNC_SCHEDULE');
  assert.is(configError({ LOG_LEVEL: 'loud' }).variable, 'LOG_LEVEL');
  assert.is(configError({ API_TOKENS: 'short' }).variable, 'API_TOKENS');
  assert.is(configError({ DATABASE_POOL_SIZE: '0' }).variable, 'DATABASE_POOL_SIZE');
  assert.is(configError({ METRICS_PORT: '1.5' }).variable, 'METRICS_PORT');
  assert.is(loadConfig({ WEBHOOK_RETENTION_DAYS: '0' }).WEBHOOK_RETENTION_DAYS, 0, '0 keeps every delivery');
  for (const days of ['-1', '1.5', 'forever', '3651']) {
    const error = configError({ WEBHOOK_RETENTION_DAYS: days });
    assert.is(error.variable, 'WEBHOOK_RETENTION_DAYS');
    assert.match(error.message, /whole number of days from 0/);
  }
});

test('secrets are never echoed in configuration errors', () => {
  const error = configError({ API_TOKENS: 'tooshort' });
  assert.not.match(error.message, /tooshort/);
  assert.match(error.message, /\*\*\*/);
  const malformed = configError({ DATABASE_URL: 'postgres//app:S3cretPw@db.internal:5432/app' });
  assert.is(malformed.variable, 'DATABASE_URL');
  assert.not.match(malformed.message, /S3cretPw/, 'the password of a malformed database URL');
  assert.match(malformed.message, /postgres\/\/app:\*\*\*@db\.internal/);
  for (const url of ['postgres://app:p@ssw0rd-secret@db:5432/app?sslmode=verify-full', 'postgres://app@db/app?password=s3cret-pw&sslmode=verify-ca']) {
    const refused = configError({ DATABASE_URL: url });
    assert.not.match(refused.message, /ssw0rd|secret|s3cret/, 'no part of the password');
  }
});

test("DATABASE_URL's sslmode is one every database client reads alike", () => {
  for (const mode of ['disable', 'require', 'no-verify']) {
    assert.ok(loadConfig({ DATABASE_URL: `postgres://u:p@db:5432/registry?sslmode=${mode}` }).DATABASE_URL, mode);
  }
  for (const mode of ['verify-full', 'prefer', 'bogus']) {
    const error = configError({ DATABASE_URL: `postgres://u:p@db:5432/registry?sslmode=${mode}` });
    assert.is(error.variable, 'DATABASE_URL', mode);
    assert.match(error.message, /sslmode must be disable, require .* or no-verify/);
    assert.not.match(error.message, /u:p@/, 'the password stays out of the message');
  }
});

test('DATABASE_URL refuses TLS parameters the database clients read differently', () => {
  // Slonik's parseDsn ignores `ssl`, so its pool would connect in plain text while pg-boss and
  // migrate (node-postgres) use TLS.
  for (const value of ['true', '1', 'false']) {
    const error = configError({ DATABASE_URL: `postgres://u:p@db:5432/registry?ssl=${value}` });
    assert.is(error.variable, 'DATABASE_URL', value);
    assert.match(error.message, /the ssl parameter is not supported: use sslmode/);
    assert.not.match(error.message, /u:p@/);
  }
  // The config would check one value of a repeated parameter and the clients use another.
  for (const query of ['sslmode=disable&sslmode=verify-full', 'sslmode=require&sslmode=require', 'application_name=a&sslmode=require&application_name=b']) {
    const error = configError({ DATABASE_URL: `postgres://u:p@db:5432/registry?${query}` });
    assert.is(error.variable, 'DATABASE_URL', query);
    assert.match(error.message, /query parameter .* is given more than once/, query);
  }
  assert.ok(loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/registry?sslmode=require&application_name=a' }).DATABASE_URL);
});

test('API_TOKENS and METRICS_TOKEN refuse tokens no Authorization header can carry intact', () => {
  const tokens = ['aaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbb', 'aaaaaaaaaaaaaaaa\tbbbb', 'tökentokentokenxx', 'aaaaaaaaaaaaaaaa\u0007'];
  for (const token of tokens) {
    const error = configError({ API_TOKENS: `${token},cccccccccccccccc` });
    assert.is(error.variable, 'API_TOKENS', token);
    assert.match(error.message, /^API_TOKENS: .*comma-separated/, token);
    assert.not.match(error.message, /aaaa|cccc|ö/, 'the tokens stay out of the message');
    const metrics = configError({ METRICS_TOKEN: token });
    assert.is(metrics.variable, 'METRICS_TOKEN', token);
    assert.match(metrics.message, /^METRICS_TOKEN: /, token);
  }
  // Visible ASCII beyond token68, as generated secrets have: accepted, as it always worked.
  for (const valid of ['Az09-._~+/Az09-._~+/==', 'tokentokentoken!x', 'p@ss:w$rd#%&*()[]{}<>?']) {
    assert.equal(loadConfig({ API_TOKENS: `${valid}, cccccccccccccccc` }).API_TOKENS, [valid, 'cccccccccccccccc']);
    assert.is(loadConfig({ METRICS_TOKEN: valid }).METRICS_TOKEN, valid);
  }
});

test('bearerToken reads the token alphabet the configuration accepts', () => {
  assert.is(bearerToken('Bearer Az09-._~+/Az09-._~+/=='), 'Az09-._~+/Az09-._~+/==');
  assert.is(bearerToken('Bearer p@ss:w$rd#%&*()'), 'p@ss:w$rd#%&*()');
  assert.is(bearerToken('bearer \tabc '), 'abc');
  for (const header of ['Bearer tökentoken', 'Bearer a b', 'Basic abc', 'Bearer ']) {
    assert.is(bearerToken(header), null, header);
  }
});

test('an empty PORT or METRICS_PORT is unset, like the other optional variables', () => {
  for (const value of ['', '  ']) {
    const config = loadConfig({ PORT: value, METRICS_PORT: value, GITHUB_TOKEN: value });
    assert.is(config.PORT, 8080, JSON.stringify(value));
    assert.is(config.METRICS_PORT, 9464, JSON.stringify(value));
    assert.is(config.GITHUB_TOKEN, undefined);
  }
  assert.is(loadConfig({ PORT: ' 3000 ' }).PORT, 3000);
});

test('GITHUB_API_URL refuses a query, a fragment and credentials', () => {
  const cases: Array<[string, RegExp]> = [
    ['https://api.github.com/?x=1', /query/],
    ['https://api.github.com/#f', /fragment/],
    ['https://api.github.com/?x=1#f', /query/],
    ['https://api.github.com/?', /query/],
    ['https://u:p@ghe.example.com/api/v3', /credentials/],
    ['https://token@ghe.example.com/api/v3', /credentials/],
  ];
  for (const [url, problem] of cases) {
    const error = configError({ GITHUB_API_URL: url });
    assert.is(error.variable, 'GITHUB_API_URL', url);
    assert.match(error.message, /^GITHUB_API_URL: /, url);
    assert.match(error.message, problem, url);
  }
  assert.not.match(configError({ GITHUB_API_URL: 'https://u:s3cretpw@ghe.example.com' }).message, /s3cretpw/, 'the password stays out of the message');
  assert.is(loadConfig({ GITHUB_API_URL: 'https://ghe.example.com/api/v3/' }).GITHUB_API_URL, 'https://ghe.example.com/api/v3');
});

test('a blank DATA_DIR is refused with a message of its own', () => {
  for (const value of ['', ' ']) {
    const error = configError({ DATA_DIR: value });
    assert.is(error.variable, 'DATA_DIR');
    assert.is(error.message, `DATA_DIR: must not be blank (unset, it is .data) (got ${JSON.stringify(value)})`);
  }
  assert.is(loadConfig({ DATA_DIR: ' /var/lib/registry ' }).DATA_DIR, '/var/lib/registry');
});

test.run();
