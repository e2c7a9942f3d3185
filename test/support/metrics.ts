import parsePrometheusTextFormat, { type MetricFamily, type Sample } from 'parse-prometheus-text-format';

// Reads a Prometheus text exposition with an independent parser (a port of the reference client's),
// so that a test fails on output Prometheus would reject, not only on missing series.

export type Exposition = Map<string, MetricFamily>;

export function parseExposition(text: string): Exposition {
  const families = parsePrometheusTextFormat(text);
  return new Map(families.map((family) => [family.name, family]));
}

function matches(sample: Sample, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([key, value]) => sample.labels?.[key] === value);
}

/** Samples of `name` whose labels include `labels`. */
export function samples(exposition: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return (exposition.get(name)?.metrics ?? []).filter((sample) => matches(sample, labels));
}

/** The value of the one sample of a counter or gauge, or undefined when there is none. */
export function value(exposition: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples(exposition, name, labels);
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value === undefined ? undefined : Number(found[0].value);
}

/** The observation count of the one matching histogram sample (0 when there is none). */
export function histogramCount(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = samples(exposition, name, labels);
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return Number(found[0]?.count ?? 0);
}
