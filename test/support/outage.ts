import * as assert from 'uvu/assert';
import { logged, startCliProcess, type CliProcess } from './cli-process.ts';

// The API and a worker as real processes on one database, and the checks the database-outage tests
// share: what each endpoint answers, and how long after the database is back both serve again.

export type Services = { api: CliProcess; worker: CliProcess; apiUrl: string; workerUrl: string; stop: () => Promise<void> };

export async function startServices(databaseUrl: string): Promise<Services> {
  const env = { DATABASE_URL: databaseUrl, PORT: '0', METRICS_PORT: '0' };
  const api = startCliProcess(['api'], env);
  const worker = startCliProcess(['worker'], env);
  try {
    const apiUrl = String((await api.waitForLog(logged('api listening'))).url);
    const workerUrl = String((await worker.waitForLog(logged('worker metrics server listening'))).url);
    await worker.waitForLog(logged('worker started'));
    return {
      api,
      worker,
      apiUrl,
      workerUrl,
      stop: async () => {
        await Promise.all([api.kill(), worker.kill()]);
      },
    };
  } catch (error) {
    await Promise.all([api.kill(), worker.kill()]);
    throw error;
  }
}

/** Status of GET `url`; a request that hangs fails the test (5 s abort), an unreachable one is 0. */
export async function statusOf(url: string): Promise<number> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    if ((error as Error).name === 'TimeoutError') throw new Error(`GET ${url} hung for 5 s`);
    return 0;
  }
}

export function endpoints(services: Services): Record<string, string> {
  return {
    'api /-/healthz': `${services.apiUrl}/-/healthz`,
    'api /-/readyz': `${services.apiUrl}/-/readyz`,
    'worker /-/healthz': `${services.workerUrl}/-/healthz`,
  };
}

/** While the database is down: 503s, answered (not hung), and /metrics still served by both. */
export async function assertUnavailable(services: Services): Promise<void> {
  for (const [name, url] of Object.entries(endpoints(services))) {
    assert.is(await statusOf(url), 503, `${name} while the database is down`);
  }
  assert.is(await statusOf(`${services.apiUrl}/metrics`), 200, 'api /metrics while the database is down');
  assert.is(await statusOf(`${services.workerUrl}/metrics`), 200, 'worker /metrics while the database is down');
}

/** Polls every endpoint until all answer 200; returns how long that took after `since`. */
export async function msUntilServing(services: Services, since: number, limitMs = 15_000): Promise<number> {
  const pending = new Map(Object.entries(endpoints(services)));
  while (pending.size > 0) {
    if (performance.now() - since > limitMs) throw new Error(`still not serving after ${limitMs} ms: ${[...pending.keys()].join(', ')}`);
    for (const [name, url] of [...pending]) if ((await statusOf(url)) === 200) pending.delete(name);
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return performance.now() - since;
}

export function assertStillRunning(services: Services): void {
  assert.is(services.api.child.exitCode, null, `the API did not restart or exit\n${services.api.output()}`);
  assert.is(services.worker.child.exitCode, null, `the worker did not restart or exit\n${services.worker.output()}`);
}
