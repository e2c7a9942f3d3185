import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { listProducts } from '../src/db/products.ts';
import { logged, startCliProcess } from './support/cli-process.ts';
import { createTestDatabase } from './support/database.ts';
import { QUIET_GITHUB, runCli } from './support/processes.ts';

// The products file is applied by `migrate` (the release step), not by workers: a worker started
// with another file (an older version's replica restarting in a rolling deploy, or one whose
// PRODUCTS_FILE is missing and falls back to the example) leaves the tracked products as they are.

test('a worker started with another products file tracks what migrate loaded, and changes nothing', async () => {
  const database = await createTestDatabase({ label: 'worker_products', migrated: false });
  const dir = mkdtempSync(join(tmpdir(), 'rr-products-'));
  const released = join(dir, 'released.json');
  const stale = join(dir, 'stale.json');
  writeFileSync(released, JSON.stringify({ products: [{ name: 'widget', repository: 'acme/widget' }, { name: 'gadget', repository: 'acme/gadget' }] }));
  writeFileSync(stale, JSON.stringify({ products: [{ name: 'widget', repository: 'acme/widget-old' }] }));
  const env = { DATABASE_URL: database.url, ...QUIET_GITHUB, METRICS_PORT: '0' };
  try {
    const migrated = await runCli(['migrate'], { ...env, PRODUCTS_FILE: released });
    assert.is(migrated.code, 0, migrated.stderr);

    const worker = startCliProcess(['worker'], { ...env, PRODUCTS_FILE: stale });
    try {
      const tracked = await worker.waitForLog(logged('tracked products'));
      assert.equal(tracked.products, ['gadget', 'widget']);
      await worker.waitForLog(logged('worker started'));
    } finally {
      await worker.kill();
    }
    const products = await listProducts(database.db);
    assert.equal(
      products.map((product) => [product.name, product.repository]),
      [
        ['gadget', 'acme/gadget'],
        ['widget', 'acme/widget'],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await database.drop();
  }
});

test.run();
