import { createTestDatabase, quietLogger } from './support/database.ts';
import { installQueues } from '../src/queues.ts';
const t = performance.now();
const d = await createTestDatabase({ label: 'dbg' });
if (process.argv[2] === 'q') await installQueues(d.url, quietLogger);
await d.drop();
console.log('done', Math.round(performance.now() - t));
setTimeout(() => { console.log(process.getActiveResourcesInfo()); }, 2000).unref();
