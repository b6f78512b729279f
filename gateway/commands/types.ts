export interface Command {
  /** One line for the usage text. */
  usage: string
  run (args: string[]): Promise<number>
}
