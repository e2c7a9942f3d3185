// `npm run bench [-- name ...]`: runs the benchmarks of test/bench (each a standalone script that
// prints JSON lines), one after the other, passing their output through. Without names, all of them.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const names = process.argv.slice(2);
const all = readdirSync(dir)
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts') && file !== 'run.ts' && !file.startsWith('bare-'))
  .map((file) => file.replace(/\.ts$/, ''));
const selected = names.length === 0 ? all : names;
let failed = 0;
for (const name of selected) {
  if (!all.includes(name)) {
    process.stderr.write(`no benchmark ${name} (have: ${all.join(', ')})\n`);
    failed += 1;
    continue;
  }
  process.stdout.write(`# ${name}\n`);
  const result = spawnSync(process.execPath, ['--expose-gc', `${dir}${name}.ts`], { stdio: 'inherit' });
  if (result.status !== 0) failed += 1;
}
process.exit(failed > 0 ? 1 : 0);
