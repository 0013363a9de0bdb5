import type { Readable, Writable } from 'node:stream'
import type { Chunk, Environ, WsgiApp, WsgiErrors, WsgiInput } from '../../types/protocol.js'
import { BaseHandler, isDisconnect } from './handler.js'
import { fileWrapper } from './file-wrapper.js'
import { drainOrClose } from './drain.js'
import { BufferedInput } from './input.js'
import { StreamInput } from './stream-input.js'
import { WSGI_VERSION, guessScheme } from './util.js'
import { SERVER_SOFTWARE } from '../version.js'

const NO_BODY = Buffer.alloc(0)

/** Options of SimpleHandler: wsgiref's constructor flags and class attributes. */
export interface SimpleHandlerOptions {
  /** `wsgi.multithread` (default false: one JavaScript thread runs every app). */
  multithread?: boolean
  /** `wsgi.multiprocess` (default false). */
  multiprocess?: boolean
  /** `wsgi.run_once` (default false; true for CGI). */
  runOnce?: boolean
  /**
   * Whether this handler is the origin server: it then writes an
   * `HTTP/1.0` status line with Date and Server; otherwise a CGI `Status:`
   * line, leaving those to the web server. Default true.
   */
  originServer?: boolean
  /** The Server header and default SERVER_SOFTWARE; `false` for none. Default `fastify-wsgi/<version>`. */
  serverSoftware?: string | false
  /** Largest request body read from the input stream, in bytes (default 1 MiB). */
  bodyLimit?: number
  /** The HTTP version of an origin server's status line (wsgiref's http_version). Default '1.0'. */
  httpVersion?: string
}

/** wsgi.errors over a writable text stream (stderr): text goes straight through. */
class StreamErrors implements WsgiErrors {
  private readonly stream: Writable

  constructor (stream: Writable) {
    this.stream = stream
  }

  write (text: string): void {
    this.stream.write(text)
  }

  writelines (lines: Iterable<string>): void {
    for (const line of lines) this.write(line)
  }

  flush (): void {}
}

/**
 * wsgiref.handlers.SimpleHandler: runs an app over any Node readable (the
 * request body), writable (the response, head and body as bytes) and
 * writable error stream, with the environ given. The body is read into
 * `wsgi.input` up to CONTENT_LENGTH before the app runs (none when it is
 * absent, as CGI defines). The output stream is not ended: the caller owns it.
 *
 * ```js
 * const handler = new SimpleHandler(input, output, process.stderr, { REQUEST_METHOD: 'GET', PATH_INFO: '/' })
 * await handler.run(app)
 * ```
 */
export class SimpleHandler extends BaseHandler<WsgiInput> {
  private readonly stdin: Readable
  private readonly stdout: Writable
  private readonly stderr: Writable
  private readonly bodyLimit: number
  private readonly httpVersion: string
  /** Whether a failure of the output stream was seen: only the first is reported. */
  private outputFailedOnce = false

  constructor (stdin: Readable, stdout: Writable, stderr: Writable, environ: Record<string, unknown>, options: SimpleHandlerOptions = {}) {
    const serverSoftware = options.serverSoftware ?? SERVER_SOFTWARE
    const originServer = options.originServer ?? true
    // wsgiref's setup_environ: the base environ plus the wsgi.* keys of this transport.
    const env: Record<string, unknown> = { ...environ }
    env['wsgi.input'] = new BufferedInput(NO_BODY)
    env['wsgi.errors'] = new StreamErrors(stderr)
    env['wsgi.version'] = WSGI_VERSION
    env['wsgi.run_once'] = options.runOnce ?? false
    env['wsgi.url_scheme'] = guessScheme(env)
    env['wsgi.multithread'] = options.multithread ?? false
    env['wsgi.multiprocess'] = options.multiprocess ?? false
    env['wsgi.file_wrapper'] = fileWrapper
    if (originServer && serverSoftware !== false) env.SERVER_SOFTWARE ??= serverSoftware
    super(env as unknown as Environ<WsgiInput>)
    this.stdin = stdin
    this.stdout = stdout
    this.stderr = stderr
    this.originServer = originServer
    this.serverSoftware = serverSoftware
    this.bodyLimit = options.bodyLimit ?? 1024 * 1024
    this.httpVersion = options.httpVersion ?? '1.0'
  }

  /**
   * Reads the request body into wsgi.input, then runs the app; resolves when
   * the response is handed to the output stream (wsgiref's _flush). A failure
   * of that stream is reported on the error stream, except a reader that went
   * away (as wsgiref's handler does), and never reaches the process as an
   * unhandled 'error'.
   */
  async run (app: WsgiApp<WsgiInput>): Promise<void> {
    const stdout = this.stdout
    const onOutputError = (err: Error): void => { this.outputFailed(err) }
    stdout.on('error', onOutputError)
    try {
      try {
        this.environ['wsgi.input'] = await this.readInput()
      } catch (err) {
        this.handleError(err)
        return
      }
      await super.run(app)
      if (!stdout.destroyed) await new Promise<void>((resolve) => { stdout.write(NO_BODY, () => resolve()) })
    } finally {
      // A failed write emits 'error' on a later tick than its callback: the listener stays until then.
      setImmediate(() => stdout.off('error', onOutputError))
    }
  }

  private outputFailed (err: Error): void {
    if (this.outputFailedOnce) return
    this.outputFailedOnce = true
    if (!isDisconnect(err)) this.logException(err, 'Writing the response failed')
  }

  private async readInput (): Promise<BufferedInput> {
    const declared = Number(this.environ.CONTENT_LENGTH ?? 0)
    if (!(declared > 0)) return new BufferedInput(NO_BODY)
    // Reading exactly CONTENT_LENGTH bytes: a web server may keep the pipe open after the body.
    const body = await new StreamInput(this.stdin, this.bodyLimit).read(declared)
    return new BufferedInput(body)
  }

  /**
   * A status line as an origin server (HTTP/`httpVersion`), or CGI's
   * `Status:` header as a gateway. An origin server answering an HTTP/0.9
   * request sends the body alone (wsgiref's client_is_modern).
   */
  protected writeHead (statusCode: number, reason: string, headers: string[]): void {
    if (this.originServer && String(this.environ.SERVER_PROTOCOL).toUpperCase() === 'HTTP/0.9') return
    let head = this.originServer ? `HTTP/${this.httpVersion} ${statusCode} ${reason}\r\n` : `Status: ${statusCode} ${reason}\r\n`
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`
    this.stdout.write(head + '\r\n', 'latin1')
  }

  protected writeBody (chunk: Chunk): boolean {
    return this.stdout.write(chunk)
  }

  protected waitForDrain (): Promise<void> {
    return drainOrClose(this.stdout)
  }

  protected endResponse (chunk?: Chunk): void {
    if (chunk !== undefined) this.stdout.write(chunk)
  }

  /** What was written is flushed, then the output is destroyed: its reader sees it stop before the body's end. */
  protected abortResponse (): void {
    const stdout = this.stdout
    if (stdout.destroyed) return
    stdout.write(NO_BODY, () => { stdout.destroy() })
  }

  protected clientGone (): boolean {
    return this.stdout.destroyed
  }

  protected logException (err: unknown, message: string): void {
    this.stderr.write(`${message}: ${err instanceof Error ? err.stack : String(err)}\n`)
  }

  protected logDisconnect (): void {}
}

/**
 * wsgiref.handlers.CGIHandler: runs an app as a CGI script. The environ comes
 * from `process.env`, the body from stdin, the `Status:` line, headers and
 * body go to stdout and errors to stderr; the web server adds Date and
 * Server. `wsgi.run_once` and `wsgi.multiprocess` are true.
 *
 * ```js
 * await new CGIHandler().run(app)
 * ```
 */
export class CGIHandler extends SimpleHandler {
  constructor (options: Omit<SimpleHandlerOptions, 'originServer'> = {}) {
    super(process.stdin, process.stdout, process.stderr, { ...process.env }, {
      runOnce: true, multiprocess: true, ...options, originServer: false
    })
  }

  /** Runs the app, then lets go of stdin: the script may exit even if the web server keeps the pipe open. */
  async run (app: WsgiApp<WsgiInput>): Promise<void> {
    await super.run(app)
    process.stdin.destroy()
  }
}
