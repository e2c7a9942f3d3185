import cron from 'node-cron';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { previousCronSlot } from '../src/sync/previous-cron-slot.ts';

// The last nominal time a cron expression was due before a given time (local time, as node-cron's).

const previous = (expression: string, before: Date) => {
  const task = cron.createTask(expression, () => {});
  try {
    return previousCronSlot(task, before);
  } finally {
    void task.destroy();
  }
};

test('the last slot before a time, for schedules from every second to once in four years', () => {
  // Monday 30 November 2026, 05:20:30.500 local time.
  const now = new Date(2026, 10, 30, 5, 20, 30, 500);
  assert.equal(previous('* * * * * *', now), new Date(2026, 10, 30, 5, 20, 30));
  assert.equal(previous('*/15 * * * *', now), new Date(2026, 10, 30, 5, 15));
  assert.equal(previous('@hourly', now), new Date(2026, 10, 30, 5, 0));
  assert.equal(previous('30 6 * * *', now), new Date(2026, 10, 29, 6, 30), 'today\'s is still to come');
  assert.equal(previous('0 3 * * 1-5', new Date(2026, 10, 29, 12)), new Date(2026, 10, 27, 3), 'on Sunday: Friday\'s');
  assert.equal(previous('0 0 L * *', now), new Date(2026, 10, 30), 'the last day of the month');
  assert.equal(previous('0 0 1 1 *', now), new Date(2026, 0, 1));
  assert.equal(previous('0 0 29 2 *', now), new Date(2024, 1, 29));
});

test('a time that is itself a slot is not its own previous slot', () => {
  assert.equal(previous('*/15 * * * *', new Date(2026, 10, 30, 5, 15)), new Date(2026, 10, 30, 5, 0));
});

test.run();
