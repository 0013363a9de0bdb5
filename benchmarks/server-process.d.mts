export interface BenchmarkServer {
  port: number
  /** `http://127.0.0.1:<port>` */
  origin: string
  pid: number
  /** Whether it speaks HTTP/2 without TLS (h2c) rather than HTTP/1.1. */
  h2: boolean
  /** GETs a path of the server's own (/__cpu, /__counts/...) in the server's protocol; resolves with the body. */
  get: (path: string) => Promise<string>
  /** Ends the process and waits for it to exit. */
  stop: () => Promise<void>
}

export function startServer (contender: string, options?: { nodeFlags?: string[], env?: Record<string, string>, wrapper?: string[], h2?: boolean }): Promise<BenchmarkServer>
