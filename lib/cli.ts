#!/usr/bin/env node
// `fastify-wsgi [options] module[:export]`: gunicorn's `gunicorn module:app` for WSGI-style apps.
// One process serves (makeServer), or a node:cluster primary supervises --workers N of them.
import cluster, { type Worker } from 'node:cluster'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { isIP, type AddressInfo } from 'node:net'
import { resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { describeValue } from './response-checks.js'
import { checkFastifyVersion, MAX_TIMEOUT, serveApp, type WsgiServer } from './serve.js'

const USAGE = `Usage: fastify-wsgi [options] path/to/module.(js|mjs|cjs|ts)[:export]

Serves the WSGI-style app (environ, startResponse) => body that the module
exports: the named export, else "default", else "app".

Options:
  --host H                address to listen on (default 127.0.0.1)
  --port P                port to listen on (default 8000; 0 picks a free one)
  --workers N             N worker processes under a supervisor (node:cluster): a worker
                          that dies is replaced, SIGHUP replaces them one by one
                          (default: no supervisor, this process serves)
  --input buffer|stream   how wsgi.input is offered (default buffer)
  --prefix /p             mount the app at /p: its SCRIPT_NAME (default: the root)
  --graceful-timeout S    seconds in-flight responses get to finish on shutdown (default 30)
  --body-limit BYTES      largest request body, in bytes; a larger one is answered 413
                          (default 1048576: 1 MiB; --input stream reads any size in
                          bounded memory, so raise it there for large uploads)
  --keep-alive-timeout S  seconds an idle keep-alive connection stays open (default 72;
                          keep it above the idle timeout of a proxy in front)
  --request-timeout S     seconds a client has to send a whole request, headers and body,
                          before it is answered 408 (default 0: no limit)
  --trust-proxy LIST      the proxies in front, comma-separated: IP addresses, CIDR ranges
                          (10.0.0.0/8), loopback, linklocal, uniquelocal. From them,
                          X-Forwarded-For, -Proto and -Host set REMOTE_ADDR,
                          wsgi.url_scheme and SERVER_NAME/SERVER_PORT (default: none)
  --log-level L           fatal, error, warn, info, debug, trace or silent (default info)
  -h, --help              show this help

Signals: SIGTERM or SIGINT shut down gracefully (exit 0); SIGHUP reloads the
workers (with --workers). Bad arguments, an app that cannot be loaded and an
address that cannot be listened on exit with code 2.
TypeScript modules need a Node.js that strips types (22.18+, or 22.10+ with
NODE_OPTIONS=--experimental-strip-types); on older ones, compile them to JavaScript.`

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/** Every failure before serving is the user's to fix: one line on stderr, exit code 2. */
class UsageError extends Error {}

// A location as Node prints it: `file:///app.mjs:3` or `/app.cjs:3` above a syntax error, `at … (file:///app.mjs:3:9)` in a stack.
const LOCATION_LINE = /^(?:file:\/\/|\/).*:\d+$/
const STACK_FRAME = /^\s+at (?:.*\()?((?:file:\/\/|\/)[^()]+:\d+:\d+)\)?$/

/**
 * Where an app module failed to import, as lines to append to the message: the file and line of a
 * syntax error with its source line, or the first frame of the module's own code.
 */
function whereImportFailed (err: Error, url: string): string {
  let lines = String(err.stack).split('\n')
  if (!LOCATION_LINE.test(lines[0])) {
    const frame = lines.map((line) => STACK_FRAME.exec(line)?.[1]).find((location) => location !== undefined)
    if (frame !== undefined) return `\n  at ${displayPath(frame)}`
  }
  // CommonJS puts a syntax error's location atop the stack; an ES module's only shows it when Node
  // reports the error as uncaught, so a child process imports the module again to print it.
  // Nothing is evaluated there: a syntax error stops the whole module graph before it runs.
  if (!LOCATION_LINE.test(lines[0]) && err instanceof SyntaxError) {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(url)})`], { encoding: 'utf8', timeout: 10_000 })
    lines = String(child.stderr).split('\n')
  }
  return LOCATION_LINE.test(lines[0]) ? `\n  at ${displayPath(lines[0])}\n  ${lines[1]}\n  ${lines[2]}` : ''
}

/** A file URL in a location as a path, which is what a user types. */
function displayPath (location: string): string {
  return location.startsWith('file://') ? location.replace(/^file:\/\/[^:]*/, (url) => fileURLToPath(url)) : location
}

interface CliOptions {
  host: string
  port: number
  /** 0: no supervisor. */
  workers: number
  input: 'buffer' | 'stream'
  prefix: string | undefined
  gracefulTimeout: number
  bodyLimit: number | undefined
  keepAliveTimeout: number | undefined
  requestTimeout: number | undefined
  trustProxy: string | undefined
  logLevel: string
  file: string
  exportName: string | undefined
}

/** Messages a worker sends its primary. */
type WorkerMessage = { type: 'listening', port: number } | { type: 'failed', message: string } | { type: 'stopped' }

function integer (flag: string, value: string, min: number, max: number): number {
  const number = Number(value)
  if (!/^\d+$/.test(value) || number < min || number > max) throw new UsageError(`--${flag}: expected an integer from ${min} to ${max}, got "${value}"`)
  return number
}

/** Node's timers (and so socket timeouts) take at most MAX_TIMEOUT ms, in whole seconds here. */
const MAX_SECONDS = Math.floor(MAX_TIMEOUT / 1000)

/** A number of seconds (`30`, `0.5`) in milliseconds, at least `min` ms. */
function milliseconds (flag: string, value: string, min: number): number {
  const ms = Math.round(Number(value) * 1000)
  if (!/^\d+(\.\d+)?$/.test(value) || ms < min || ms > MAX_SECONDS * 1000) {
    throw new UsageError(`--${flag}: expected a number of seconds from ${min / 1000} to ${MAX_SECONDS}, got "${value}"`)
  }
  return ms
}

/** proxy-addr's names for address ranges, which Fastify's trustProxy accepts. */
const PROXY_RANGES = ['loopback', 'linklocal', 'uniquelocal']

/** An IP address, a CIDR range (`10.0.0.0/8`) or one of proxy-addr's range names. */
function isProxyAddress (entry: string): boolean {
  if (PROXY_RANGES.includes(entry)) return true
  const [address, bits, ...rest] = entry.split('/')
  const version = isIP(address)
  if (version === 0 || rest.length > 0) return false
  return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128))
}

/**
 * --trust-proxy: the addresses of the proxies in front, as Fastify's trustProxy string. Neither
 * `true` nor a hop count: `true` takes the client's address from the far end of X-Forwarded-For,
 * which the client writes itself, and since Fastify 5.12.1 a hop count trusts no address at all.
 */
function trustedProxies (list: string): string {
  if (list === 'true') {
    throw new UsageError('--trust-proxy: "true" would let every client choose its own REMOTE_ADDR (X-Forwarded-For); give the addresses of the proxies in front, such as 127.0.0.1 or 10.0.0.0/8')
  }
  for (const entry of list.split(',').map((part) => part.trim())) {
    if (!isProxyAddress(entry)) throw new UsageError(`--trust-proxy: expected IP addresses, CIDR ranges, loopback, linklocal or uniquelocal, comma-separated; "${entry}" is none of them`)
  }
  return list
}

/** `path/to/app.mjs:name` → the file and the export; a colon elsewhere is part of the path. */
function splitModuleSpec (spec: string): { file: string, exportName: string | undefined } {
  const match = /^(.+\.[cm]?[jt]s):([A-Za-z_$][\w$]*)$/.exec(spec)
  return match === null ? { file: spec, exportName: undefined } : { file: match[1], exportName: match[2] }
}

/** Reads the command line; returns null for --help. */
function parseCli (argv: string[]): CliOptions | null {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '8000' },
        workers: { type: 'string' },
        input: { type: 'string', default: 'buffer' },
        prefix: { type: 'string' },
        'graceful-timeout': { type: 'string', default: '30' },
        'body-limit': { type: 'string' },
        'keep-alive-timeout': { type: 'string' },
        'request-timeout': { type: 'string' },
        'trust-proxy': { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h', default: false }
      }
    })
  } catch (err) {
    // parseArgs' first sentence names the option; the rest is advice about positionals.
    throw new UsageError(`${(err as Error).message.split('. ')[0]}; see --help`)
  }
  const { values, positionals } = parsed
  if (values.help) return null
  if (positionals.length !== 1) throw new UsageError(`expected one module (path/to/app.mjs[:export]), got ${positionals.length}; see --help`)
  if (values.input !== 'buffer' && values.input !== 'stream') throw new UsageError(`--input: expected buffer or stream, got "${values.input}"`)
  if (!LOG_LEVELS.includes(values['log-level'])) throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got "${values['log-level']}"`)
  if (values.prefix !== undefined && !values.prefix.startsWith('/')) throw new UsageError(`--prefix: expected a path starting with /, got "${values.prefix}"`)
  const optional = <T>(value: string | undefined, parse: (value: string) => T): T | undefined => value === undefined ? undefined : parse(value)
  return {
    host: values.host,
    port: integer('port', values.port, 0, 65535),
    workers: values.workers === undefined ? 0 : integer('workers', values.workers, 1, 1024),
    input: values.input,
    prefix: values.prefix,
    gracefulTimeout: milliseconds('graceful-timeout', values['graceful-timeout'], 0),
    bodyLimit: optional(values['body-limit'], (value) => integer('body-limit', value, 1, Number.MAX_SAFE_INTEGER)),
    // Fastify takes 0 for its default (72 s), so 0 is refused rather than misread.
    keepAliveTimeout: optional(values['keep-alive-timeout'], (value) => milliseconds('keep-alive-timeout', value, 1)),
    requestTimeout: optional(values['request-timeout'], (value) => milliseconds('request-timeout', value, 0)),
    trustProxy: optional(values['trust-proxy'], trustedProxies),
    logLevel: values['log-level'],
    ...splitModuleSpec(positionals[0])
  }
}

/** Imports the module and picks the app: the named export, else `default`, else `app`. */
async function loadApp (file: string, exportName: string | undefined): Promise<unknown> {
  const path = resolve(file)
  if (!existsSync(path)) throw new UsageError(`cannot find the module ${path}`)
  // Node 20 cannot import TypeScript; say so rather than fail on the first type annotation.
  // (Reached only under Node 20, where cli-bad-input.test.ts checks the message.)
  /* c8 ignore next 3 */
  if (/\.[cm]?ts$/.test(path) && !(process.features as { typescript?: string | false }).typescript) {
    throw new UsageError(`cannot import ${file}: Node.js ${process.version} does not strip TypeScript types; compile it to JavaScript (tsc) and pass the .js file, or use Node.js 22.18+ (see --help)`)
  }
  let exports: Record<string, unknown>
  try {
    exports = await import(pathToFileURL(path).href)
  } catch (err) {
    const reason = err instanceof Error ? err.message + whereImportFailed(err, pathToFileURL(path).href) : `it threw ${describeValue(err)}`
    throw new UsageError(`cannot import ${file}: ${reason}`)
  }
  const names = exportName === undefined ? ['default', 'app'] : [exportName]
  const present = names.filter((name) => exports[name] !== undefined)
  if (present.length === 0) throw new UsageError(`${file} has no export named ${names.map((name) => `"${name}"`).join(' or ')}`)
  const name = present.find((candidate) => typeof exports[candidate] === 'function')
  if (name === undefined) {
    throw new UsageError(`${file}: the export "${present[0]}" is ${describeValue(exports[present[0]])}, not a WSGI app function (environ, startResponse) => body`)
  }
  return exports[name]
}

function portOf (server: WsgiServer): number {
  return (server.server.address() as AddressInfo).port
}

function urlOf (host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

/** Loads the app and listens: everything a serving process does before it serves. */
async function start (options: CliOptions): Promise<WsgiServer> {
  const app = await loadApp(options.file, options.exportName)
  try {
    return await serveApp(app, {
      host: options.host,
      port: options.port,
      input: options.input,
      prefix: options.prefix,
      gracefulTimeout: options.gracefulTimeout,
      bodyLimit: options.bodyLimit,
      keepAliveTimeout: options.keepAliveTimeout,
      requestTimeout: options.requestTimeout,
      // Node checks request timeouts every 30 s by default: a shorter timeout would fire up to 30 s late.
      http: options.requestTimeout ? { connectionsCheckingInterval: Math.min(1000, options.requestTimeout) } : undefined,
      trustProxy: options.trustProxy,
      logger: { level: options.logLevel }
    })
  } catch (err) {
    throw new UsageError(`cannot listen on ${urlOf(options.host, options.port)}: ${(err as Error).message}`)
  }
}

/** SIGTERM and SIGINT close the server gracefully, then `exit` (repeats are ignored: a supervisor and a terminal may both signal). */
function closeOnSignals (server: WsgiServer, exit: () => void): void {
  let closing = false
  const stop = (signal: NodeJS.Signals): void => {
    if (closing) return
    closing = true
    server.log.info({ signal }, 'shutting down gracefully')
    server.close().then(exit)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

function exitWithUsageError (message: string): never {
  process.stderr.write(`fastify-wsgi: ${message}\n`)
  process.exit(2)
}

/** No supervisor: this process serves. */
async function serveHere (options: CliOptions): Promise<void> {
  const server = await start(options)
  const port = portOf(server)
  process.stdout.write(`fastify-wsgi: listening on ${urlOf(options.host, port)}\n`)
  closeOnSignals(server, () => process.exit(0))
}

/** A cluster worker: serves, and tells the primary it listens, or why it could not start. */
async function serveWorker (options: CliOptions): Promise<void> {
  const send = (message: WorkerMessage, callback?: () => void): void => { process.send!(message, undefined, undefined, callback) }
  let server: WsgiServer
  try {
    // The primary holds the listening socket; with --port 0, every worker gets the same port from it.
    server = await start(options)
  } catch (err) {
    send({ type: 'failed', message: (err as Error).message }, () => process.exit(2))
    return
  }
  closeOnSignals(server, () => {
    // The primary may have handed this worker a connection just before it learned that the
    // server closed. That handoff reaches the worker before the primary's answer to 'stopped'
    // (one channel, in order), and the worker refuses it, so the cluster gives it to another
    // worker: exiting only on that answer, no connection is lost in between.
    process.once('message', () => process.exit(0))
    send({ type: 'stopped' })
  })
  send({ type: 'listening', port: portOf(server) })
}

/**
 * The cluster primary: forks the workers, replaces one that dies, reloads on
 * SIGHUP (gunicorn's graceful reload: start a new worker, wait until it
 * listens, then stop an old one gracefully), and on SIGTERM/SIGINT stops them
 * all gracefully and exits 0. A worker that cannot start stops everything
 * with its message and exit code 2.
 */
function supervise (options: CliOptions): void {
  let stopping = false
  let exitCode = 0
  let listening = 0
  const alive = new Set<Worker>()
  const retiring = new Set<Worker>()
  const fork = (): Worker => {
    const worker = cluster.fork()
    alive.add(worker)
    worker.on('message', (message: WorkerMessage) => { if (message.type === 'stopped') worker.send('exit') })
    return worker
  }
  /** Resolves once the worker listens, or has exited (the exit handler replaces it). */
  const started = (worker: Worker): Promise<void> => new Promise((resolve) => {
    worker.on('message', (message: WorkerMessage) => { if (message.type === 'listening') resolve() })
    worker.once('exit', () => resolve())
  })
  const stopAll = (): void => {
    stopping = true
    for (const worker of alive) worker.process.kill('SIGTERM')
  }
  const onMessage = (_worker: Worker, message: WorkerMessage): void => {
    if (message.type === 'failed') {
      // Reported once, however many workers fail the same way.
      cluster.off('message', onMessage)
      process.stderr.write(`fastify-wsgi: ${message.message}\n`)
      exitCode = 2
      stopAll()
      return
    }
    if (message.type !== 'listening') return
    // Announced once every first worker listens (the ones that replace them later listen silently).
    if (++listening !== options.workers) return
    process.stdout.write(`fastify-wsgi: listening on ${urlOf(options.host, message.port)} (primary ${process.pid}, ${options.workers} workers)\n`)
  }
  cluster.on('message', onMessage)
  cluster.on('exit', (worker, code, signal) => {
    alive.delete(worker)
    if (retiring.delete(worker)) return
    if (stopping) {
      if (alive.size === 0) process.exit(exitCode)
      return
    }
    process.stderr.write(`fastify-wsgi: worker ${worker.process.pid} died (${signal ?? `exit code ${code}`}); starting a new one\n`)
    fork()
  })
  process.on('SIGTERM', stopAll)
  process.on('SIGINT', stopAll)
  let reloading = Promise.resolve()
  process.on('SIGHUP', () => {
    // Serialised: a second SIGHUP waits for the first reload, then replaces the workers it started.
    reloading = reloading.then(async () => {
      for (const old of [...alive]) {
        if (retiring.has(old)) continue
        await started(fork())
        retiring.add(old)
        old.process.kill('SIGTERM')
      }
      process.stdout.write(`fastify-wsgi: reloaded (workers ${[...alive].filter((worker) => !retiring.has(worker)).map((worker) => worker.process.pid).join(', ')})\n`)
    })
  })
  for (let i = 0; i < options.workers; i++) fork()
}

async function main (): Promise<void> {
  try {
    const options = parseCli(process.argv.slice(2))
    if (options === null) {
      process.stdout.write(`${USAGE}\n`)
      return
    }
    checkFastifyVersion()
    if (options.workers === 0) await serveHere(options)
    else if (cluster.isPrimary) supervise(options)
    else await serveWorker(options)
  } catch (err) {
    exitWithUsageError((err as Error).message)
  }
}

await main()
