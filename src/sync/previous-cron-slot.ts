import cron, { type ScheduledTask } from 'node-cron';

// node-cron (4.6) tells a task's next run, not its last one. Searching back a second at a time
// would take millions of steps for a yearly schedule, so the search goes back a day at a time and
// tries only the hours, minutes and seconds the expression allows; the task's own `match` decides,
// so day-of-month and weekday rules (`L`, `#`, either-or) are node-cron's, not a copy of them.
// Local time, as node-cron's without a `timezone` option.

/** Far enough back for any valid expression: February 29 in a given weekday recurs within 28 years. */
const MAX_DAYS_BACK = 366 * 28;

/** The latest nominal time before `before` at which `task` was due, or null if none in 28 years. */
export function previousCronSlot(task: Pick<ScheduledTask, 'getPattern' | 'match'>, before: Date): Date | null {
  const fields = cron.parse(task.getPattern());
  const [hours, minutes, seconds] = [fields.hour, fields.minute, fields.second].map((values) => [...values].sort((a, b) => b - a)) as [number[], number[], number[]];
  const [earliestHour, earliestMinute, earliestSecond] = [hours.at(-1)!, minutes.at(-1)!, seconds.at(-1)!];
  for (let back = 0; back <= MAX_DAYS_BACK; back += 1) {
    const [year, month, day] = [before.getFullYear(), before.getMonth(), before.getDate() - back];
    // The day and month fields do not depend on the time of day: one try says whether the day is due.
    if (!task.match(new Date(year, month, day, earliestHour, earliestMinute, earliestSecond))) continue;
    for (const hour of hours) {
      if (new Date(year, month, day, hour, earliestMinute, earliestSecond) >= before) continue;
      for (const minute of minutes) {
        if (new Date(year, month, day, hour, minute, earliestSecond) >= before) continue;
        for (const second of seconds) {
          const candidate = new Date(year, month, day, hour, minute, second);
          if (candidate < before && task.match(candidate)) return candidate;
        }
      }
    }
  }
  return null;
}
