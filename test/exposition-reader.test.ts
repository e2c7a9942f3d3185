import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { histogramCount, parseExposition, value } from './support/metrics.ts';

// The strict reader the metrics tests rely on accepts valid text format and rejects what Prometheus
// would reject; otherwise "/metrics parses" would prove nothing.

const valid = `# HELP h_seconds Help with \\\\ and \\n escapes.
# TYPE h_seconds histogram
h_seconds_bucket{le="0.1",route="/a/:id"} 1
h_seconds_bucket{le="+Inf",route="/a/:id"} 2
h_seconds_sum{route="/a/:id"} 0.35
h_seconds_count{route="/a/:id"} 2
# HELP g A gauge.
# TYPE g gauge
g{label="with \\"quotes\\""} Nan
g{label="plain"} -1.5e3
`;

test('valid exposition is read with its labels and values', () => {
  const metrics = parseExposition(valid);
  assert.is(histogramCount(metrics, 'h_seconds', { route: '/a/:id' }), 2);
  assert.is(value(metrics, 'g', { label: 'plain' }), -1500);
  assert.ok(Number.isNaN(value(metrics, 'g', { label: 'with "quotes"' })));
});

test('invalid exposition is rejected', () => {
  const broken: Record<string, string> = {
    'no final newline': valid.trimEnd(),
    'bad metric name': '1abc 1\n',
    'bad value': 'x one\n',
    'unquoted label value': 'x{a=b} 1\n',
    'duplicate series': 'x{a="1"} 1\nx{a="1"} 2\n',
    'family split in two': '# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx{a="2"} 2\n',
    'non-cumulative buckets': '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n',
    '+Inf bucket differs from count': '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
    'histogram without _sum': '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 2\n',
    'unknown type': '# TYPE x thing\nx 1\n',
  };
  for (const [what, text] of Object.entries(broken)) {
    assert.throws(() => parseExposition(text), undefined, what);
  }
});

test.run();
