import { readFileSync } from 'node:fs';
import { parser } from '@prometheus-io/lezer-promql';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from './support/processes.ts';

// docs/operations.md is what an operator reads at 3 a.m.: every alert says which metric shows it,
// the causes and what to do; every PromQL expression in it parses (Prometheus' own grammar); every
// project metric it names is one the code exports (the metrics table, checked against /metrics by
// test/metrics-exposition.test.ts).

const doc = readFileSync(`${ROOT}/docs/operations.md`, 'utf8');

function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  assert.ok(start !== -1, `section ${title}`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end === -1 ? undefined : end);
}

const documented = new Set([...section('Metrics').matchAll(/^\| `(release_registry_[a-z_]+)`/gm)].map((match) => match[1]!));

const ALERTS = [
  'Database connections near max',
  'Database CPU, memory or disk high',
  'Per-query lock time spikes',
  'Container CPU high',
  'Container memory high',
  'Slow container start-up',
  'Pending requests',
  'External uptime check failing',
  'Webhook deliveries failing',
  'Ingest lag high',
  'Sync failing',
  'GitHub rate limit low',
  'Dead-letter jobs',
];

function alert(title: string): string {
  const alerts = section('Alerts');
  const start = alerts.indexOf(`\n### ${title}\n`);
  assert.ok(start !== -1, `alert "${title}" is in the runbook`);
  const end = alerts.indexOf('\n### ', start + 1);
  return alerts.slice(start, end === -1 ? undefined : end);
}

/** Inline code spans that are PromQL: they name a metric and are not SQL, shell or HTTP. */
function promqlIn(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)]
    .map((match) => match[1]!)
    .filter((code) => /release_registry_[a-z_]+|process_[a-z_]+|nodejs_[a-z_]+|probe_success|container_[a-z_]+|kube_[a-z_]+/.test(code))
    .filter((code) => !/^(SELECT|GET|curl|release-registry|gh |npx|sync_state)/.test(code) && /[({ ]/.test(code));
}

test('every alert a hosted deployment carries has its metric, causes and actions', () => {
  for (const title of ALERTS) {
    const text = alert(title);
    assert.match(text, /- \*\*Shows it:\*\*/, `${title}: which metric shows it`);
    assert.match(text, /- \*\*Causes:\*\*/, `${title}: likely causes`);
    assert.match(text, /- \*\*Do:\*\*/, `${title}: what to do`);
    assert.ok(promqlIn(text).length > 0, `${title}: a PromQL expression`);
  }
});

test('every PromQL expression in the runbook parses', () => {
  const expressions = promqlIn(doc);
  assert.ok(expressions.length >= 20, `found ${expressions.length} expressions`);
  for (const expression of expressions) {
    const errors: number[] = [];
    parser.parse(expression).iterate({
      enter: (node) => {
        if (node.type.isError) errors.push(node.from);
      },
    });
    assert.equal(errors, [], `does not parse: ${expression}`);
  }
});

test('the PromQL parser used above rejects broken expressions', () => {
  for (const broken of ['sum(rate(x[5m])', 'rate(x[5m]) >', 'max by (a (b)']) {
    let errors = 0;
    parser.parse(broken).iterate({ enter: (node) => void (node.type.isError && (errors += 1)) });
    assert.ok(errors > 0, broken);
  }
});

test('every project metric the runbook names is a documented, exported metric', () => {
  const named = new Set([...doc.matchAll(/release_registry_[a-z_]+/g)].map((match) => match[0].replace(/_(bucket|sum|count)$/, '')));
  // Names ending in `_` are families written as `release_registry_db_lock_*` in prose.
  const unknown = [...named].filter((name) => !name.endsWith('_') && !documented.has(name));
  assert.equal(unknown, []);
});

test.run();
