export interface BenchmarkServer {
  port: number
  /** `http://127.0.0.1:<port>` */
  origin: string
  pid: number
  /** Ends the process and waits for it to exit. */
  stop: () => Promise<void>
}

export function startServer (contender: string, options?: { nodeFlags?: string[], env?: Record<string, string>, wrapper?: string[] }): Promise<BenchmarkServer>
