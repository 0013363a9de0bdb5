import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { connect, type Socket } from 'node:net'
import { Writable } from 'node:stream'
import type { Test } from 'tap'
import fastifyWsgi, { type FastifyWsgiOptions } from '../../lib/index.js'

/** One log record as pino writes it. */
export interface LogRecord {
  level: number
  msg: string
  reqId?: string
  err?: { type: string, message: string, stack: string, code?: string }
  [key: string]: unknown
}

/** A pino destination that keeps every record in memory, for assertions on logs. */
export function logCollector (): { stream: Writable, records: LogRecord[] } {
  const records: LogRecord[] = []
  const stream = new Writable({
    write (chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n')) if (line !== '') records.push(JSON.parse(line))
      callback()
    }
  })
  return { stream, records }
}

/** Fastify server options, including `http2` and `https` (typed loosely: tests use one instance type). */
export type ServerOptions = FastifyServerOptions & { http2?: boolean, https?: object }

/** A Fastify instance with a log collector at trace level, closed when the test ends. */
export function createServer (t: Test, options: ServerOptions = {}): { fastify: FastifyInstance, logs: LogRecord[] } {
  const { stream, records } = logCollector()
  const fastify = Fastify({ logger: { level: 'trace', stream }, ...options } as FastifyServerOptions)
  t.teardown(() => fastify.close())
  return { fastify, logs: records }
}

/**
 * A server with one mount, listening on 127.0.0.1, closed when the test ends.
 * The app runs under the validator unless the test says `validate: false`
 * (for apps that break the protocol on purpose): every test also checks the
 * server's side of the protocol.
 */
export async function listenWithMount (t: Test, options: FastifyWsgiOptions, serverOptions: ServerOptions = {}): Promise<{ fastify: FastifyInstance, logs: LogRecord[], port: number, origin: string }> {
  const { fastify, logs } = createServer(t, serverOptions)
  await fastify.register(fastifyWsgi, { validate: true, ...options } as FastifyWsgiOptions)
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const address = fastify.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return { fastify, logs, port, origin: `http://127.0.0.1:${port}` }
}

/**
 * Sends raw bytes on a new TCP connection and collects everything the server
 * sends until it closes the connection or `idleMs` pass without data.
 */
export function rawExchange (port: number, request: string | Buffer, idleMs = 300): Promise<{ text: string, closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' })
    const chunks: Buffer[] = []
    let closedByServer = false
    let timer: NodeJS.Timeout
    const finish = (): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closedByServer })
    }
    const arm = (): void => {
      clearTimeout(timer)
      timer = setTimeout(finish, idleMs)
    }
    socket.on('connect', () => { socket.write(request); arm() })
    socket.on('data', (chunk) => { chunks.push(chunk); arm() })
    socket.on('end', () => { closedByServer = true; finish() })
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
  })
}

/** Sends a raw request and resets the connection as soon as the first response bytes arrive. */
export function abortAfterFirstBytes (port: number, request: string | Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    socket.write(request)
    socket.once('data', () => { socket.destroy(); resolve() })
    socket.once('error', () => resolve())
  })
}

/** Splits raw HTTP/1.x response text into its status line, lower-cased headers and body. */
export function parseHead (text: string): { statusLine: string, headers: Record<string, string>, body: string } {
  const end = text.indexOf('\r\n\r\n')
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { statusLine, headers, body: text.slice(end + 4) }
}

/** Decodes a chunked body (latin-1 text): its chunks, and whether the 0-length last chunk closed it. */
export function decodeChunked (body: string): { chunks: string[], ended: boolean } {
  const chunks: string[] = []
  let at = 0
  while (at < body.length) {
    const lineEnd = body.indexOf('\r\n', at)
    if (lineEnd === -1) break
    const size = parseInt(body.slice(at, lineEnd), 16)
    if (size === 0) return { chunks, ended: body.slice(lineEnd) === '\r\n\r\n' }
    chunks.push(body.slice(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return { chunks, ended: false }
}

/** Polls `condition` every few milliseconds until it holds or `timeoutMs` pass. */
export async function waitFor (condition: () => boolean, timeoutMs = 1000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
}

/** A raw TCP connection kept open across requests, collecting everything the server sends. */
export interface Connection {
  socket: Socket
  /** Everything received so far, as latin-1 text. */
  text: () => string
  /** Resolves when the server (or the test) closed the connection. */
  closed: Promise<void>
}

export function openConnection (t: Test, port: number): Connection {
  const socket = connect({ port, host: '127.0.0.1' })
  let text = ''
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => { text += chunk })
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  t.teardown(() => { socket.destroy() })
  return { socket, text: () => text, closed }
}

/** Connects and resolves, or rejects with the connection error (ECONNREFUSED once a server closed). */
export function tryConnect (port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' })
    socket.once('connect', () => { socket.destroy(); resolve() })
    socket.once('error', reject)
  })
}
