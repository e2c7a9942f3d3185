import { request as httpRequest } from 'node:http';

// Readers that keep asking the API while a scenario breaks things: each request's path, status
// (0: no answer), how long it took and when it started, on fresh connections so that a dead or
// stopping process shows as refused rather than hidden behind a pooled socket.

export type ReadSample = { path: string; status: number; ms: number; at: number; error: string };

export type ReadLoad = { samples: ReadSample[]; stop: () => Promise<ReadSample[]> };

/** A request that gets no answer within this is a hang (the scenarios assert there is none). */
export const HANG_MS = 5_000;

export function startReadLoad(options: { urls: () => readonly string[]; paths: readonly string[]; concurrency?: number; headers?: Record<string, string>; pauseMs?: number }): ReadLoad {
  const samples: ReadSample[] = [];
  let running = true;
  let turn = 0;
  const client = async () => {
    while (running) {
      const urls = options.urls();
      const path = options.paths[turn % options.paths.length]!;
      const url = `${urls[turn % urls.length]!}${path}`;
      turn += 1;
      samples.push({ path, ...(await get(url, options.headers ?? {})) });
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  };
  const clients = Promise.all(Array.from({ length: options.concurrency ?? 8 }, client));
  return {
    samples,
    stop: async () => {
      running = false;
      await clients;
      return samples;
    },
  };
}

export function get(url: string, headers: Record<string, string> = {}): Promise<Omit<ReadSample, 'path'>> {
  const at = performance.now();
  return new Promise((resolve) => {
    const done = (status: number, error = '') => resolve({ status, ms: performance.now() - at, at, error });
    const request = httpRequest(url, { headers, agent: false, timeout: HANG_MS }, (response) => {
      response.resume();
      response.on('end', () => done(response.statusCode ?? 0));
      response.on('error', (error: NodeJS.ErrnoException) => done(0, error.code ?? error.message));
    });
    request.on('timeout', () => request.destroy(Object.assign(new Error('hung'), { code: 'HUNG' })));
    request.on('error', (error: NodeJS.ErrnoException) => done(0, error.code ?? error.message));
    request.end();
  });
}
