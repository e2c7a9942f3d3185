import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, ROOT } from './processes.ts';

export type RunningCli = {
  child: ChildProcess;
  /** Resolves with the first JSON log line whose `msg` is `message`. */
  waitForLog: (message: string, timeoutMs?: number) => Promise<Record<string, unknown>>;
  output: () => string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

/** Starts the real CLI (`node src/cli.ts ...`) as a long-running process (api, worker). */
export function startCli(args: string[], env: Record<string, string | undefined>): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ message: string; resolve: (line: Record<string, unknown>) => void }> = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output += text;
    partial += text;
    const complete = partial.split('\n');
    partial = complete.pop() ?? '';
    for (const raw of complete) {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        continue;
      }
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (line.msg === waiter.message) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => output,
    exited,
    waitForLog: (message, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const seen = lines.find((line) => line.msg === message);
        if (seen !== undefined) return resolve(seen);
        const timer = setTimeout(() => reject(new Error(`no "${message}" log line within ${timeoutMs} ms:\n${output}`)), timeoutMs);
        waiters.push({
          message,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`the process exited before logging "${message}":\n${output}`));
        });
      }),
  };
}
