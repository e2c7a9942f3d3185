// Reads a synthetic repository through the GitHub client as a first sync would (matching-refs, every
// tag page, every release page) against the fake GitHub in its own process, and prints the time
// and this process's memory per phase. The figures in src/github/README.md come from here:
//
//   node --expose-gc test/bench/github-client-memory.ts acme/huge:100000:4000
//   node --expose-gc --max-semi-space-size=8 test/bench/github-client-memory.ts acme/huge:100000:4000
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createGitHubClient } from '../../src/github/client.ts';
import { fetchReleasePages } from '../../src/github/release-pages.ts';
import { streamTagRefs } from '../../src/github/tag-refs.ts';
import { tagPages } from '../../src/github/tag-pages.ts';
import { createLogger } from '../../src/logger.ts';

const spec = process.argv[2] ?? 'acme/huge:100000:4000';
const [fullName = 'acme/huge'] = spec.split(':');
const [owner = 'acme', repo = 'huge'] = fullName.split('/');
const serve = fileURLToPath(new URL('../support/fake-github/serve.ts', import.meta.url));
const fake = spawn(process.execPath, [serve, '--synthetic', spec], { stdio: ['ignore', 'pipe', 'inherit'] });
const line = await new Promise<string>((resolve) => createInterface({ input: fake.stdout! }).once('line', resolve));
const { url } = JSON.parse(line) as { url: string };

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const mb = (bytes: number) => Math.round(bytes / 1e6);
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const phase = async (name: string, run: () => Promise<number>) => {
  gc();
  peak = process.memoryUsage().rss;
  const started = performance.now();
  const items = await run();
  const result = { phase: name, items, ms: Math.round(performance.now() - started), peakRssMB: mb(peak) };
  process.stdout.write(`${JSON.stringify(result)}\n`);
};

try {
  const client = createGitHubClient({ baseUrl: url, token: 'bench', logger: createLogger('bench', 'warn') });
  const repository = { owner, repo };
  gc();
  process.stdout.write(`${JSON.stringify({ start: true, rssMB: mb(process.memoryUsage().rss), heapUsedMB: mb(process.memoryUsage().heapUsed) })}\n`);
  await phase('matching-refs (streamed, counted)', async () => {
    const stream = await streamTagRefs(client, repository);
    let count = 0;
    if (!stream.notModified) for await (const batch of stream.batches) count += batch.length;
    return count;
  });
  await phase('GraphQL tag pages', async () => {
    let count = 0;
    for await (const page of tagPages(client, repository)) count += page.tags.length;
    return count;
  });
  await phase('REST release pages', async () => {
    const listing = await fetchReleasePages(client, repository);
    let count = 0;
    if (!listing.notModified) for await (const page of listing.pages) count += page.releases.length;
    return count;
  });
  gc();
  const memory = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ end: true, requests: client.stats().requests, rssAfterGcMB: mb(memory.rss), heapUsedAfterGcMB: mb(memory.heapUsed), heapTotalMB: mb(memory.heapTotal) })}\n`);
} finally {
  clearInterval(sampler);
  fake.kill('SIGTERM');
}
