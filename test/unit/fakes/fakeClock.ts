import type { Clock } from '../../../src/core/types';

/** A clock that only moves when a test says so, so cooldown timing is exact and instant. */
export class FakeClock implements Clock {
  constructor(public t = 1_700_000_000_000) {}

  now(): number {
    return this.t;
  }

  advance(ms: number): number {
    this.t += ms;
    return this.t;
  }

  set(t: number): void {
    this.t = t;
  }
}
