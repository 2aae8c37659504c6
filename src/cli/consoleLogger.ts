import type { Logger } from '../core/types';

const LEVELS = ['off', 'trace', 'debug', 'info', 'warn', 'error'] as const;
export type LevelName = (typeof LEVELS)[number];

/** Parses a `--log-level` value; undefined for an unknown name. */
export function parseLevel(name: string): number | undefined {
  const i = LEVELS.indexOf(name as LevelName);
  return i < 0 ? undefined : i;
}

/**
 * The CLI's Logger: timestamped lines on stderr (stdout carries only the banner), with VS Code's
 * level numbering so the core can skip building trace text when trace is off.
 */
export class ConsoleLogger implements Logger {
  constructor(
    readonly logLevel: number,
    private readonly write: (line: string) => void = (l) => process.stderr.write(l),
  ) {}

  trace(message: string): void {
    this.log(1, message);
  }
  debug(message: string): void {
    this.log(2, message);
  }
  info(message: string): void {
    this.log(3, message);
  }
  warn(message: string): void {
    this.log(4, message);
  }
  error(error: string | Error): void {
    this.log(5, typeof error === 'string' ? error : (error.stack ?? error.message));
  }

  private log(level: number, message: string): void {
    if (this.logLevel === 0 || level < this.logLevel) return;
    this.write(`${new Date().toISOString()} [${LEVELS[level]}] ${message}\n`);
  }
}
