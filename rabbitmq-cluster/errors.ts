/** A renderer option is wrong; the message names the field and how to fix it. */
export class RenderInputError extends Error {
  constructor(
    /** Dotted name of the offending option, e.g. `amqp.port` or `password`. */
    readonly field: string,
    problem: string,
    /** What to do instead. */
    readonly fix: string,
  ) {
    super(`option "${field}": ${problem}. Fix: ${fix}`);
    this.name = 'RenderInputError';
  }
}
