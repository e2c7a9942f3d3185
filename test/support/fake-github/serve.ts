// Runs the fake GitHub as its own process, so that a benchmark measures the memory of the
// process under test without the fake's. Prints one JSON line with the URL once listening, then
// serves until SIGTERM or SIGINT.
//
//   node test/support/fake-github/serve.ts --synthetic acme/big:100000:4000 --fixture git__git
import { parseArgs } from 'node:util';
import { TAG_LISTS, type TagList } from '../fixtures.ts';
import { startFakeGitHub } from './index.ts';

const { values } = parseArgs({
  options: {
    synthetic: { type: 'string', multiple: true, default: [] },
    fixture: { type: 'string', multiple: true, default: [] },
    releases: { type: 'string', default: 'all' },
  },
});

const fake = await startFakeGitHub();
for (const spec of values.synthetic) {
  const match = /^([^/]+)\/([^:]+):(\d+)(?::(\d+))?$/.exec(spec);
  if (match === null) throw new Error(`--synthetic expects owner/name:tags[:releases], got ${spec}`);
  fake.addSyntheticRepository({ owner: match[1]!, name: match[2]!, tags: Number(match[3]), releases: Number(match[4] ?? 0) });
}
for (const list of values.fixture) {
  if (!(TAG_LISTS as readonly string[]).includes(list)) throw new Error(`--fixture expects one of ${TAG_LISTS.join(', ')}`);
  fake.addFixtureRepository(list as TagList, { releases: values.releases === 'none' ? 'none' : 'all' });
}
process.stdout.write(`${JSON.stringify({ url: fake.url, pid: process.pid })}\n`);
const stop = () => void fake.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
