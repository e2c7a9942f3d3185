import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, QUIET_GITHUB, ROOT } from './processes.ts';

// A long-running CLI process (`node src/cli.ts api|worker|start`) started by a test: its JSON log
// lines are parsed as they arrive so a test can wait for one ("api listening") and read the URL
// from it; `signal()` and `exited` let the test time a shutdown.

export type LogLine = { msg?: string; level?: string; [key: string]: unknown };

export type CliProcess = {
  child: ChildProcess;
  lines: LogLine[];
  /** stdout and stderr as received, for failure messages. */
  output: () => string;
  /** stderr alone: what the CLI tells a person, as opposed to its JSON log on stdout. */
  stderr: () => string;
  /** Resolves with the first log line (already seen or still to come) that `match` accepts. */
  waitForLog: (match: (line: LogLine) => boolean, timeoutMs?: number) => Promise<LogLine>;
  /** Resolves when the process has exited, with its exit code and when that was. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** The exit, or null when the process still runs `ms` after the call. */
  exitWithin: (ms: number) => Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number } | null>;
  signal: (signal: NodeJS.Signals) => void;
  /** SIGKILLs the process if it still runs (test cleanup). */
  kill: () => Promise<void>;
};

export type CliProcessOptions = {
  /** The entry point: the source CLI by default; the fault suite runs the built one (BUILT_CLI). */
  cli?: string;
  /** Node.js flags before the entry point (the Procfile's worker flags, for instance). */
  nodeArgs?: string[];
};

export function startCliProcess(args: string[], env: Record<string, string | undefined>, options: CliProcessOptions = {}): CliProcess {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.cli ?? CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'info', ...QUIET_GITHUB, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const waiters = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  let output = '';
  let stderr = '';
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output += text;
    pending += text;
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const raw of complete) {
      if (raw.trim() === '') continue;
      let line: LogLine;
      try {
        line = JSON.parse(raw) as LogLine;
      } catch {
        line = { msg: raw };
      }
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.match(line)) {
          waiters.delete(waiter);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() }));
  });

  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 20_000) => {
    const seen = lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<LogLine>((resolve, reject) => {
      const waiter = { match, resolve };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`no matching log line within ${timeoutMs} ms from release-registry ${args.join(' ')}:\n${output}`));
      }, timeoutMs);
      waiter.resolve = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
      waiters.add(waiter);
      void exited.then(() => {
        if (!waiters.has(waiter)) return;
        waiters.delete(waiter);
        clearTimeout(timer);
        reject(new Error(`release-registry ${args.join(' ')} exited before the expected log line:\n${output}`));
      });
    });
  };

  return {
    child,
    lines,
    output: () => output,
    stderr: () => stderr,
    waitForLog,
    exited,
    exitWithin: async (ms) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), ms);
      });
      try {
        return await Promise.race([exited, late]);
      } finally {
        clearTimeout(timer);
      }
    },
    signal: (signal) => {
      child.kill(signal);
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** `message` of a log line, for matching. */
export const logged = (message: string) => (line: LogLine) => line.msg === message;
