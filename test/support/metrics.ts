// A strict reader of the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format), so that a test
// fails on output Prometheus would reject, not only on a missing series. It checks the grammar of
// every line, one TYPE per family before its samples, contiguous families, no duplicate series, and
// for histograms cumulative buckets ending in +Inf equal to _count, with a _sum.
// (The npm parsers at hand drop the labels of labelled histograms, which every metric here has.)

export type Sample = { name: string; labels: Record<string, string>; value: number };
export type Family = { name: string; type: string; help: string; samples: Sample[] };
export type Exposition = Map<string, Family>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parseExposition(text: string): Exposition {
  const families: Exposition = new Map();
  const seriesSeen = new Set<string>();
  let current: Family | undefined;
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('the exposition must end with a newline');
  for (const [index, line] of lines.slice(0, -1).entries()) {
    const where = `line ${index + 1}: ${line}`;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (match === null) continue; // a plain comment
      const [, keyword, name, rest] = match as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name, ${where}`);
      let family = families.get(name);
      if (family === undefined) {
        family = { name, type: 'untyped', help: '', samples: [] };
        families.set(name, family);
      } else if (family !== current) {
        throw new Error(`family ${name} is not contiguous, ${where}`);
      }
      current = family;
      if (keyword === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`bad type, ${where}`);
        if (family.samples.length > 0) throw new Error(`TYPE after samples, ${where}`);
        family.type = rest;
      } else {
        family.help = rest;
      }
      continue;
    }
    if (line.trim() === '') continue;
    const sample = parseSample(line, where);
    const familyName = familyOf(sample.name, current);
    if (current === undefined || familyName !== current.name) {
      if (families.has(familyName)) throw new Error(`family ${familyName} is not contiguous, ${where}`);
      current = { name: familyName, type: 'untyped', help: '', samples: [] };
      families.set(familyName, current);
    }
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seriesSeen.has(key)) throw new Error(`duplicate series, ${where}`);
    seriesSeen.add(key);
    current.samples.push(sample);
  }
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function familyOf(sampleName: string, current: Family | undefined): string {
  if (current !== undefined && (current.type === 'histogram' || current.type === 'summary')) {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (sampleName === `${current.name}${suffix}`) return current.name;
    }
  }
  return sampleName;
}

function parseSample(line: string, where: string): Sample {
  const nameMatch = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (nameMatch === null) throw new Error(`bad sample, ${where}`);
  const name = nameMatch[1]!;
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1);
    while (!rest.startsWith('}')) {
      const label = /^([^=]+)="((?:[^"\\]|\\[\\"n])*)"(,?)/.exec(rest);
      if (label === null || !LABEL_NAME.test(label[1]!)) throw new Error(`bad label, ${where}`);
      if (label[1]! in labels) throw new Error(`repeated label ${label[1]}, ${where}`);
      labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_all, escaped: string) => (escaped === 'n' ? '\n' : escaped));
      rest = rest.slice(label[0].length);
      if (label[3] === '' && !rest.startsWith('}')) throw new Error(`bad label list, ${where}`);
    }
    rest = rest.slice(1);
  }
  const parts = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
  if (parts === null) throw new Error(`bad value, ${where}`);
  // Values are what Go's strconv.ParseFloat accepts (Prometheus parses them so): special values in any case.
  const raw = parts[1]!;
  const special = raw.toLowerCase().replace(/^\+/, '');
  const value = special === 'nan' ? NaN : special === 'inf' || special === 'infinity' ? Infinity : special === '-inf' || special === '-infinity' ? -Infinity : Number(raw);
  if (Number.isNaN(value) && special !== 'nan') throw new Error(`bad value, ${where}`);
  return { name, labels, value };
}

function checkHistogram(family: Family): void {
  const series = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: bucket without le`);
      entry.buckets.push([le === '+Inf' ? Infinity : Number(le), sample.value]);
    } else if (sample.name.endsWith('_sum')) entry.sum = sample.value;
    else if (sample.name.endsWith('_count')) entry.count = sample.value;
    else throw new Error(`${family.name}: unexpected sample ${sample.name}`);
  }
  for (const [key, entry] of series) {
    const where = `${family.name}${key}`;
    if (entry.sum === undefined || entry.count === undefined) throw new Error(`${where}: _sum or _count missing`);
    const last = entry.buckets.at(-1);
    if (last === undefined || last[0] !== Infinity || last[1] !== entry.count) throw new Error(`${where}: the +Inf bucket must equal _count`);
    for (let i = 1; i < entry.buckets.length; i += 1) {
      const [previousLe, previousCount] = entry.buckets[i - 1]!;
      const [le, count] = entry.buckets[i]!;
      if (!(le > previousLe) || count < previousCount) throw new Error(`${where}: buckets must be sorted and cumulative`);
    }
  }
}

function matches(sample: Sample, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([key, value]) => sample.labels[key] === value);
}

/** Samples of the family `name` (histograms: only `_count` samples) whose labels include `labels`. */
export function samples(exposition: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  const family = exposition.get(name);
  if (family === undefined) return [];
  const own = family.type === 'histogram' ? family.samples.filter((sample) => sample.name === `${name}_count`) : family.samples;
  return own.filter((sample) => matches(sample, labels));
}

/** The value of the one matching sample of a counter or gauge, or undefined when there is none. */
export function value(exposition: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples(exposition, name, labels);
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

/** The observation count of the one matching histogram series (0 when there is none). */
export function histogramCount(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  return value(exposition, name, labels) ?? 0;
}
