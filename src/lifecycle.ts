// Where a serving process is in its life. Readiness reports it (a load balancer stops sending
// traffic to an instance that is starting or stopping) and a stopping API closes keep-alive
// connections after their in-flight request, so that clients reconnect to another replica.

export type LifecycleState = 'starting' | 'ready' | 'stopping';

export class Lifecycle {
  #state: LifecycleState = 'starting';

  get state(): LifecycleState {
    return this.#state;
  }

  markReady(): void {
    if (this.#state === 'starting') this.#state = 'ready';
  }

  markStopping(): void {
    this.#state = 'stopping';
  }
}
