import { writeFileSync } from 'node:fs';

// How a benchmark part hands its figures to `npm run bench` (test/bench/run.ts): the runner names a
// file in BENCH_RESULT_FILE and the part writes one JSON object there. Run alone, a part only prints.

export function writeBenchResult(figures: object): void {
  const file = process.env.BENCH_RESULT_FILE;
  if (file !== undefined && file !== '') writeFileSync(file, `${JSON.stringify(figures, null, 2)}\n`);
}

export type LoadRow = { label: string; rps: number; p50: number; p99: number; errors: number };

export type ReadApiResult = {
  releases: number;
  connections: number;
  durationS: number;
  rounds: number;
  results: LoadRow[];
  freshnessMs: { p50: number; p99: number; max: number; samples: number };
  pgbench: Array<{ label: string; tps?: number; latencyMs?: number; skipped?: string }>;
};

export type IntakeResult = {
  connections: number;
  /** Per round: the intake and the bare endpoint alternate, `rounds` times each. */
  durationS: number;
  rounds: number;
  intake: { rps: number; p50: number; p99: number; errors: number };
  bare: { rps: number; p50: number; p99: number; errors: number };
  /** The median of the rounds' intake / bare ratios. */
  ratio: number;
  databaseOnlyRps: number;
  /** The floor endpoint (bare + JSON.parse + the intake's statement, nothing else) and the median of its rounds' floor / bare ratios. */
  floor: { rps: number; p50: number; p99: number; errors: number; ratio: number };
  /** All CPUs busy at the intake's measured CPU per delivery (API, PostgreSQL, load generator): the most this machine could answer; null without /proc. */
  cpuBoundRps: number | null;
  /** Deliveries/s the worker's enqueuer gives jobs (it must keep up with the intake). */
  enqueuerRps: number;
  freshness: { rate: number; deliveries: number; p50: number; p90: number; p99: number; max: number };
};

export type SyncResult = {
  tags: number;
  releases: number;
  first: {
    wallMs: number;
    requests: number;
    budget: number;
    peakRssMB: number;
    upsertRowsPerSecond: number;
    endToEndRowsPerSecond: number;
    copyRowsPerSecond: number;
  };
  huge?: { tags: number; wallMs: number; requests: number; peakRssMB: number };
};
