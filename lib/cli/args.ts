import { isIP } from 'node:net'
import { parseArgs } from 'node:util'
import { MAX_TIMEOUT } from '../server/make-server.js'

// The command line of `fastify-wsgi`: its flags, described once (the usage and the parser follow
// the table), and the checks that turn their text into makeServer's options.

/** Every failure before serving is the user's to fix: one line on stderr, exit code 2. */
export class UsageError extends Error {}

/** One flag: its value's name in the usage (none for a boolean), its default as typed, and its help lines. */
interface Flag {
  name: string
  value?: string
  short?: string
  default?: string
  help: string[]
}

const FLAGS: readonly Flag[] = [
  { name: 'host', value: 'H', default: '127.0.0.1', help: ['address to listen on (default 127.0.0.1)'] },
  { name: 'port', value: 'P', default: '8000', help: ['port to listen on (default 8000; 0 picks a free one)'] },
  {
    name: 'workers',
    value: 'N',
    help: [
      'N worker processes under a supervisor (node:cluster): a worker',
      'that dies is replaced, SIGHUP replaces them one by one',
      '(default: no supervisor, this process serves)'
    ]
  },
  { name: 'input', value: 'buffer|stream', default: 'buffer', help: ['how wsgi.input is offered (default buffer)'] },
  { name: 'prefix', value: '/p', help: ['mount the app at /p: its SCRIPT_NAME (default: the root)'] },
  { name: 'graceful-timeout', value: 'S', default: '30', help: ['seconds in-flight responses get to finish on shutdown (default 30)'] },
  {
    name: 'body-limit',
    value: 'BYTES',
    help: [
      'largest request body, in bytes; a larger one is answered 413',
      '(default 1048576: 1 MiB; --input stream reads any size in',
      'bounded memory, so raise it there for large uploads)'
    ]
  },
  {
    name: 'keep-alive-timeout',
    value: 'S',
    help: ['seconds an idle keep-alive connection stays open (default 72;', 'keep it above the idle timeout of a proxy in front)']
  },
  {
    name: 'request-timeout',
    value: 'S',
    help: ['seconds a client has to send a whole request, headers and body,', 'before it is answered 408 (default 0: no limit)']
  },
  {
    name: 'trust-proxy',
    value: 'LIST',
    help: [
      'the proxies in front, comma-separated: IP addresses, CIDR ranges',
      '(10.0.0.0/8), loopback, linklocal, uniquelocal. From them,',
      'X-Forwarded-For, -Proto and -Host set REMOTE_ADDR,',
      'wsgi.url_scheme and SERVER_NAME/SERVER_PORT (default: none)'
    ]
  },
  { name: 'log-level', value: 'L', default: 'info', help: ['fatal, error, warn, info, debug, trace or silent (default info)'] },
  { name: 'help', short: 'h', help: ['show this help'] }
]

/** The column where a flag's help starts. */
const HELP_COLUMN = 26

function usageLines (flag: Flag): string[] {
  const left = `  ${flag.short === undefined ? '' : `-${flag.short}, `}--${flag.name}${flag.value === undefined ? '' : ` ${flag.value}`}`
  return flag.help.map((line, i) => (i === 0 ? left : '').padEnd(HELP_COLUMN) + line)
}

export const USAGE = `Usage: fastify-wsgi [options] path/to/module.(js|mjs|cjs|ts)[:export]

Serves the WSGI-style app (environ, startResponse) => body that the module
exports: the named export, else "default", else "app".

Options:
${FLAGS.flatMap(usageLines).join('\n')}

Signals: SIGTERM or SIGINT shut down gracefully (exit 0); SIGHUP reloads the
workers (with --workers). Bad arguments, an app that cannot be loaded and an
address that cannot be listened on exit with code 2.
TypeScript modules need a Node.js that strips types (22.18+, or 22.10+ with
NODE_OPTIONS=--experimental-strip-types); on older ones, compile them to JavaScript.`

/** The flags as node:util's parseArgs takes them. */
const PARSE_OPTIONS = Object.fromEntries(FLAGS.map((flag) => [flag.name, {
  type: flag.value === undefined ? 'boolean' as const : 'string' as const,
  ...(flag.short === undefined ? {} : { short: flag.short }),
  ...(flag.default === undefined ? {} : { default: flag.default })
}]))

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export interface CliOptions {
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
export function parseCli (argv: string[]): CliOptions | null {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: PARSE_OPTIONS
    })
  } catch (err) {
    // parseArgs' first sentence names the option; the rest is advice about positionals.
    throw new UsageError(`${(err as Error).message.split('. ')[0]}; see --help`)
  }
  const { positionals } = parsed
  if (parsed.values.help === true) return null
  // Every flag but --help takes a string; the ones with a default always have one.
  const values = parsed.values as Record<string, string | undefined>
  const given = (name: string): string => values[name] as string
  if (positionals.length !== 1) throw new UsageError(`expected one module (path/to/app.mjs[:export]), got ${positionals.length}; see --help`)
  if (values.input !== 'buffer' && values.input !== 'stream') throw new UsageError(`--input: expected buffer or stream, got "${values.input}"`)
  if (!LOG_LEVELS.includes(given('log-level'))) throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got "${values['log-level']}"`)
  if (values.prefix !== undefined && !values.prefix.startsWith('/')) throw new UsageError(`--prefix: expected a path starting with /, got "${values.prefix}"`)
  const optional = <T>(value: string | undefined, parse: (value: string) => T): T | undefined => value === undefined ? undefined : parse(value)
  return {
    host: given('host'),
    port: integer('port', given('port'), 0, 65535),
    workers: values.workers === undefined ? 0 : integer('workers', values.workers, 1, 1024),
    input: values.input,
    prefix: values.prefix,
    gracefulTimeout: milliseconds('graceful-timeout', given('graceful-timeout'), 0),
    bodyLimit: optional(values['body-limit'], (value) => integer('body-limit', value, 1, Number.MAX_SAFE_INTEGER)),
    // Fastify takes 0 for its default (72 s), so 0 is refused rather than misread.
    keepAliveTimeout: optional(values['keep-alive-timeout'], (value) => milliseconds('keep-alive-timeout', value, 1)),
    requestTimeout: optional(values['request-timeout'], (value) => milliseconds('request-timeout', value, 0)),
    trustProxy: optional(values['trust-proxy'], trustedProxies),
    logLevel: given('log-level'),
    ...splitModuleSpec(positionals[0])
  }
}
