// Reads until a condition holds. For effects that arrive asynchronously (notifications, the events
// feed's horizon, which waits for the oldest transaction on the whole server, other test files'
// included). The bound only stops a test that would otherwise hang; no speed is asserted.

export async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, what: string, boundMs = 60_000): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`never happened within ${boundMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
