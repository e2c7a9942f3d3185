import { readFileSync } from 'node:fs';

// CPU time of other processes (a server under load, its PostgreSQL backends), read from Linux's
// /proc/<pid>/stat: fields 14 and 15 are utime and stime in clock ticks (USER_HZ, 100 on every
// Linux build this runs on). Elsewhere, or for a process that is gone, the answer is null and the
// benchmark prints no CPU figures rather than wrong ones.
// https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html

const TICKS_PER_SECOND = 100;

export type CpuSeconds = { user: number; system: number };

export function processCpu(pid: number): CpuSeconds | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may contain spaces: split after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const user = Number(fields[11]);
  const system = Number(fields[12]);
  if (!Number.isFinite(user) || !Number.isFinite(system)) return null;
  return { user: user / TICKS_PER_SECOND, system: system / TICKS_PER_SECOND };
}

/** CPU seconds of each process, by pid, now (processes that cannot be read are left out). */
export function cpuSnapshot(pids: readonly number[]): Map<number, number> {
  const snapshot = new Map<number, number>();
  for (const pid of pids) {
    const cpu = processCpu(pid);
    if (cpu !== null) snapshot.set(pid, cpu.user + cpu.system);
  }
  return snapshot;
}

/**
 * CPU seconds the processes spent between two snapshots. A process first seen in `after` started
 * in between and counts whole; one missing from `after` ended in between and its last interval is
 * lost (pools rarely close connections under load).
 */
export function cpuBetween(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}

/** Whether this system exposes other processes' CPU time (Linux). */
export const cpuAccountingAvailable = processCpu(process.pid) !== null;
