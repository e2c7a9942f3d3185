import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort } from '../../src/embedded-postgres.ts';
import { assertAcceptedProcessed, assertNoJobLeft, waitUntilSettled } from './support/delivery-checks.ts';
import { sendDeliveries } from './support/delivery-sender.ts';
import { processOutput, startFaultStack, type ApiProcess, type WorkerProcess } from './support/fault-stack.ts';
import { deliveriesForChanges } from '../support/github-changes.ts';
import { assertMatchesFullSync } from './support/ground-truth.ts';

// Scenario 1. 2,000 webhook deliveries (real payload shapes, signed) for a repository that keeps
// changing on the fake GitHub, sent by 16 clients while the API process is SIGKILLed and restarted
// twice and the worker once. A delivery that got no answer is sent again under its id, as GitHub's
// redelivery does. Every delivery answered 2xx is stored and processed, and the releases end equal
// to a full sync of GitHub's final state.

const DELIVERIES = 2_000;
const PRODUCT = { name: 'widget', repository: 'acme/widget' };

test('2,000 deliveries through two API kills and a worker kill: none lost, releases equal a full sync', async () => {
  const stack = await startFaultStack({ label: 'faults_crashes', products: [PRODUCT] });
  try {
    const repository = stack.fake.addRepository({ owner: 'acme', name: 'widget' });
    const deliveries = deliveriesForChanges(repository, DELIVERIES, { seed: Number(process.env.FAULTS_SEED ?? 61) });

    const port = await freePort();
    let api: ApiProcess = await stack.startApi({ port });
    let worker: WorkerProcess = await stack.startWorker();
    const started = performance.now();
    const sender = sendDeliveries(deliveries, { urls: () => [api.url], concurrency: 16 });
    const kills: string[] = [];

    await sender.acceptedAtLeast(400);
    api.process.signal('SIGKILL');
    await api.process.exited;
    kills.push(`api at ${sender.report.accepted.size}`);
    api = await stack.startApi({ port });

    await sender.acceptedAtLeast(900);
    worker.process.signal('SIGKILL');
    await worker.process.exited;
    kills.push(`worker at ${sender.report.accepted.size}`);
    worker = await stack.startWorker();

    await sender.acceptedAtLeast(1_400);
    api.process.signal('SIGKILL');
    await api.process.exited;
    kills.push(`api at ${sender.report.accepted.size}`);
    api = await stack.startApi({ port });

    const report = await sender.done;
    const sentMs = performance.now() - started;
    process.stdout.write(`# sent in ${Math.round(sentMs)} ms; kills: ${kills.join(', ')}; failed attempts: ${JSON.stringify(Object.fromEntries(report.failedAttempts))}\n`);
    assert.equal(report.unexpected, [], 'no answer but 2xx, or no answer at all while a process was down');
    assert.is(report.accepted.size, deliveries.length, 'every delivery was eventually answered 2xx');
    assert.ok([...report.failedAttempts.values()].reduce((sum, n) => sum + n, 0) > 0, 'some requests met a dead API');

    await waitUntilSettled(stack, [...report.accepted.keys()]);
    process.stdout.write(`# all processed ${Math.round(performance.now() - started - sentMs)} ms after the last was accepted\n`);
    await assertAcceptedProcessed(stack.db, report.accepted);
    await assertNoJobLeft(stack.db);
    const { rows } = await assertMatchesFullSync(stack.db, stack.fake, PRODUCT);
    process.stdout.write(`# ${report.accepted.size} deliveries, ${rows} live release rows equal to a full sync\n`);
  } catch (error) {
    process.stdout.write(processOutput(stack));
    throw error;
  } finally {
    await stack.close();
  }
});

test.run();
