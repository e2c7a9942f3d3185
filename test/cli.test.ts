import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainModule, unsupportedNodeVersion } from '../src/entry-point.ts';
import { installQueues, QUEUES } from '../src/queues.ts';
import { createTestDatabase, quietLogger, serverUrl, withDatabase } from './support/database.ts';
import { CLI, runCli } from './support/processes.ts';

test('a malformed variable stops the process with exit 1 and one line naming it', async () => {
  const result = await runCli(['api'], { PORT: 'abc', DATABASE_URL: 'postgres://localhost/x' });
  assert.is(result.code, 1);
  assert.is(result.stdout, '');
  const lines = result.stderr.trimEnd().split('\n');
  assert.is(lines.length, 1, result.stderr);
  assert.match(lines[0]!, /PORT: expected an integer from 0 to 65535 \(got "abc"\)/);
});

test('a missing DATABASE_URL stops api, worker and migrate with one line', async () => {
  for (const command of ['api', 'worker', 'migrate']) {
    const result = await runCli([command], {});
    assert.is(result.code, 1, command);
    const lines = result.stderr.trimEnd().split('\n');
    assert.is(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /DATABASE_URL: required by this command/);
  }
});

test('a bad products file stops the process with one line naming it', async () => {
  const result = await runCli(['migrate'], { DATABASE_URL: 'postgres://localhost/x', PRODUCTS_FILE: '/nonexistent/products.json' });
  assert.is(result.code, 1);
  assert.match(result.stderr.trim(), /^release-registry: configuration error: PRODUCTS_FILE: cannot read \/nonexistent\/products.json \(ENOENT\)$/);
});

test('commands that only read the database do not need the products file', async () => {
  const database = await createTestDatabase({ label: 'cli-products' });
  try {
    await installQueues(database.url, quietLogger);
    const env = { DATABASE_URL: database.url, LOG_LEVEL: 'silent', PRODUCTS_FILE: '/nonexistent/products.json' };
    const result = await runCli(['redrive', QUEUES.syncProduct, '--dry-run'], env);
    assert.is(result.code, 0, result.stderr);
    assert.is(result.stdout, `would move 0 job(s) from ${QUEUES.syncProductDead} back to ${QUEUES.syncProduct}\n`);
  } finally {
    await database.drop();
  }
});

test('a one-shot command that fails prints one line on stderr and nothing on stdout', async () => {
  // stdout carries the results of sync and replay: a log line of the failure, with its stack,
  // would land among them. The default log level, so that an error-level line would show.
  const database = await createTestDatabase({ label: 'cli-failure' });
  try {
    const result = await runCli(['sync', 'nope'], { DATABASE_URL: database.url });
    assert.is(result.code, 1);
    assert.is(result.stdout, '');
    assert.is(result.stderr, 'release-registry sync: no tracked product "nope" (see PRODUCTS_FILE)\n');
  } finally {
    await database.drop();
  }
});

test('a database that cannot be reached at start: one line naming it, exit 1, not an unexpected error', async () => {
  const unreachable = 'postgres://postgres:hunter2@127.0.0.1:1/x';
  const missing = withDatabase(serverUrl(), 'rr_no_such_database');
  const cases = [
    { command: 'migrate', url: unreachable, reason: /connect ECONNREFUSED 127\.0\.0\.1:1$/ },
    { command: 'api', url: unreachable, reason: /connect ECONNREFUSED 127\.0\.0\.1:1$/ },
    { command: 'worker', url: unreachable, reason: /connect ECONNREFUSED 127\.0\.0\.1:1$/ },
    { command: 'migrate', url: missing, reason: /database "rr_no_such_database" does not exist$/ },
  ];
  for (const { command, url, reason } of cases) {
    const result = await runCli([command], { DATABASE_URL: url, PORT: '0', METRICS_PORT: '0' });
    assert.is(result.code, 1, `${command}: ${result.stdout}`);
    const lines = result.stderr.trimEnd().split('\n');
    assert.is(lines.length, 1, result.stderr);
    const { host, port } = new URL(url);
    const masked = url.replace(':hunter2@', ':***@');
    assert.ok(lines[0]!.startsWith(`release-registry ${command}: cannot reach the database at ${host.replace(/:\d+$/, '')}:${port || '5432'} (${masked}): `), lines[0]);
    assert.match(lines[0]!, reason);
    assert.not.match(result.stderr + result.stdout, /hunter2/);
    assert.not.match(result.stdout, /"level":"fatal"|unexpected error/);
    assert.match(result.stdout, /"level":"error"/);
  }
});

test('usage errors (missing, extra or malformed arguments) exit 2 with one line and the usage, before touching the database', async () => {
  // Exit 1 is a failure (`sync --wait`: the sync failed); a mistyped command line is not one.
  const env = { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x' };
  const cases: Array<{ args: string[]; message: RegExp; usage: RegExp }> = [
    { args: ['sync'], message: /^release-registry sync: name the product to sync$/, usage: /^usage: release-registry sync <product> / },
    { args: ['sync', 'helm', '--bogus'], message: /^release-registry sync: unknown option '--bogus'$/, usage: /^usage: release-registry sync / },
    { args: ['sync', 'helm', 'extra'], message: /^release-registry sync: expected one product, got 2: helm extra$/, usage: /^usage: release-registry sync / },
    {
      args: ['sync', 'helm', '--timeout', '0.5'],
      message: /^release-registry sync: --timeout: expected a whole number of seconds \(got "0\.5"\)$/,
      usage: /^usage: release-registry sync /,
    },
    { args: ['redrive', 'foo'], message: /^release-registry redrive: expected a queue with a dead-letter queue: sync-product, process-delivery \(got "foo"\)$/, usage: /^usage: release-registry redrive </ },
    { args: ['redrive', 'sync-product', 'extra', '--dry-run'], message: /^release-registry redrive: expected one queue, got 2: sync-product extra$/, usage: /^usage: release-registry redrive </ },
    { args: ['replay'], message: /^release-registry replay: name delivery ids or --failed/, usage: /^usage: release-registry replay / },
    { args: ['migrate', 'extra-arg'], message: /^release-registry migrate: takes no arguments \(got extra-arg\)$/, usage: /^usage: release-registry migrate$/ },
    { args: ['api', '--port', '1'], message: /^release-registry api: takes no arguments \(got --port 1\)$/, usage: /^usage: release-registry api$/ },
  ];
  for (const { args, message, usage } of cases) {
    const result = await runCli(args, env);
    assert.is(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.is(result.stdout, '', args.join(' '));
    const lines = result.stderr.trimEnd().split('\n');
    assert.is(lines.length, 2, result.stderr);
    assert.match(lines[0]!, message);
    assert.match(lines[1]!, usage);
  }
});

test('unknown commands print the usage and exit 2', async () => {
  const result = await runCli(['frobnicate'], {});
  assert.is(result.code, 2);
  assert.match(result.stderr, /unknown command "frobnicate"/);
  assert.match(result.stderr, /migrate/);
  const help = await runCli(['help'], {});
  assert.is(help.code, 0);
  assert.match(help.stdout, /usage: release-registry <command>/);
});

test('the CLI knows it is run as a program without import.meta.main (Node.js before 24.2)', () => {
  const url = pathToFileURL(CLI).href;
  const dir = mkdtempSync(join(tmpdir(), 'cli-entry-'));
  try {
    // npm installs the bin as a symlink: process.argv[1] is the link, import.meta.url its target.
    const link = join(dir, 'release-registry');
    symlinkSync(CLI, link);
    assert.ok(isMainModule({ url }, CLI));
    assert.ok(isMainModule({ url }, link));
    assert.not.ok(isMainModule({ url }, join(dir, 'other.js')), 'a file that does not exist');
    assert.not.ok(isMainModule({ url }, join(import.meta.dirname, 'run.ts')), 'imported by another program');
    assert.not.ok(isMainModule({ url }, undefined), 'node -e, the REPL');
    assert.ok(isMainModule({ url, main: true }, undefined), 'import.meta.main decides where Node.js has it');
    assert.not.ok(isMainModule({ url, main: false }, CLI));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI refuses a Node.js older than 24 with one line', () => {
  for (const version of ['20.20.2', '22.12.0', '23.11.1']) {
    const message = unsupportedNodeVersion(version);
    assert.type(message, 'string', version);
    assert.is(message, `release-registry needs Node.js 24 or later; this is Node.js ${version}`);
  }
  for (const version of ['24.0.0', '24.21.0', '25.1.0']) assert.is(unsupportedNodeVersion(version), null, version);
  assert.is(unsupportedNodeVersion(process.versions.node), null, 'the Node.js the tests run on');
});

test.run();
