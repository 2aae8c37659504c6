/** A failure the CLI reports in one line (no stack) and exits with `exitCode` (1: it did not work; 2: usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
