// The webhook part of `npm run bench`: intake throughput beside the bare Koa endpoint, then
// freshness at a steady rate, both from test/bench/webhook-intake.ts (which also runs alone:
// `node test/bench/webhook-intake.ts [intake|freshness]`). Prints its tables and hands the figures
// to the runner.

import { benchFreshness, benchWebhookIntake, cpuBoundDeliveriesPerSecond, formatFreshnessFigures, formatIntakeFigures } from './webhook-intake.ts';
import { writeBenchResult, type IntakeResult } from './support/bench-result.ts';

const intake = await benchWebhookIntake();
process.stdout.write(`${formatIntakeFigures(intake)}\n\n`);
const freshness = await benchFreshness();
process.stdout.write(`${formatFreshnessFigures(freshness)}\n`);

const load = ({ median }: typeof intake.intake) => ({ rps: median.requestsPerSecond, p50: median.p50Ms, p99: median.p99Ms, errors: median.non2xx + median.errors });
const result: IntakeResult = {
  connections: intake.connections,
  durationS: intake.roundSeconds,
  rounds: intake.rounds,
  intake: load(intake.intake),
  bare: load(intake.ceiling),
  ratio: intake.ratio,
  databaseOnlyRps: intake.databaseOnly.deliveriesPerSecond,
  floor: { ...load(intake.floor.figures), ratio: intake.floor.ratio },
  cpuBoundRps: cpuBoundDeliveriesPerSecond(intake.intake.median),
  enqueuerRps: intake.enqueuer.deliveriesPerSecond,
  freshness: { rate: freshness.ratePerSecond, deliveries: freshness.deliveries, p50: freshness.p50Ms, p90: freshness.p90Ms, p99: freshness.p99Ms, max: freshness.maxMs },
};
writeBenchResult(result);
process.exit(0);
