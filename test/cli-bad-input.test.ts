// The fastify-wsgi CLI refusing bad input (options, app modules that fail to load), each case a
// process of its own: a file apart from cli.test.ts, so each stays within tap's per-file timeout
// on a busy machine.
import { test, type Test } from 'tap'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { dir, modules, runCli } from './helpers/cli.js'

const bounded = { timeout: 30_000 }

type Refusal = [name: string, args: string[], message: RegExp]

/** Runs the CLI for each case, four at a time (each is a Node process starting up): one message on stderr, exit code 2. */
async function expectRefusals (t: Test, cases: Refusal[]): Promise<void> {
  for (let i = 0; i < cases.length; i += 4) {
    await Promise.all(cases.slice(i, i + 4).map(async ([name, args, message]) => {
      const cli = runCli(t, args)
      t.same(await cli.exited, { code: 2, signal: null }, `${name}: exit code 2`)
      const lines = cli.stderr().split('\n').filter((line) => line !== '')
      t.match(lines[0], /^fastify-wsgi: /, name)
      t.ok(lines.slice(1).every((line) => line.startsWith('  ')), `${name}: one message, any more lines indented below it`)
      t.match(lines.join('\n'), message, name)
      t.notMatch(cli.stdout(), 'listening on', `${name}: never listened`)
    }))
  }
}

// Two tests, each bounded: together, some forty Node processes outlast one bound on a busy machine.
test('bad input, the app or the port: one message on stderr (a location indented below it) and exit code 2', bounded, async (t) => {
  const blocker = createNetServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const busy = String((blocker.address() as AddressInfo).port)
  const typeScript = Boolean((process.features as { typescript?: unknown }).typescript)
  const cases: Refusal[] = [
    ['missing file', [join(dir, 'missing.mjs')], /cannot find the module .*missing\.mjs/],
    ['missing export', [`${modules.app}:nope`], /has no export named "nope"/],
    ['no default and no app', [modules.noApp], /has no export named "default" or "app"/],
    ['export not a function', [`${modules.app}:notAFunction`], /the export "notAFunction" is number 42, not a WSGI app function/],
    ['module that throws at import', [modules.throws], /cannot import .*throws\.mjs: broken at import\n {2}at \/.*\/throws\.mjs:1:7$/m],
    ['syntax error in a module the app imports', [modules.brokenDependency], /cannot import .*uses-broken\.mjs: Unexpected token ';'\n {2}at \/.*\/broken\.mjs:2\n {2}const b = ;\n {2} {10}\^/],
    ['module importing a package that is not installed', [modules.missingDependency], /cannot import .*missing-dependency\.mjs: Cannot find package 'no-such-package-here' imported from \/.*missing-dependency\.mjs$/],
    ['module that throws a string at import', [modules.throwsString], /cannot import .*throws-string\.mjs: it threw "a string"$/],
    ['syntax error in a CommonJS module', [modules.brokenCommonjs], /cannot import .*broken\.cjs: Unexpected token ';'\n {2}at \/.*\/broken\.cjs:2\n {2}const b = ;/],
    ['port in use', ['--port', busy, modules.app], new RegExp(`cannot listen on http://127\\.0\\.0\\.1:${busy}: .*EADDRINUSE`)],
    ['port in use, with workers', ['--port', busy, '--workers', '2', modules.app], /cannot listen on .*EADDRINUSE/],
    ['no module', [], /expected one module \(path\/to\/app\.mjs\[:export\]\), got 0/],
    ['two modules', [modules.app, modules.appOnly], /expected one module .*, got 2/]
  ]
  if (!typeScript) cases.push(['TypeScript on a Node without type stripping', [modules.typescript], /cannot import .*typed\.ts: Node\.js v\d+.* does not strip TypeScript types; compile it to JavaScript/])
  await expectRefusals(t, cases)
})

test('bad input, the options: one message on stderr and exit code 2', bounded, async (t) => {
  await expectRefusals(t, [
    ['unknown flag', ['--colour', 'red', modules.app], /Unknown option '--colour'; see --help/],
    ['flag without value', [modules.app, '--port'], /Option '--port <value>' argument missing/],
    ['port not a number', ['--port', 'http', modules.app], /--port: expected an integer from 0 to 65535, got "http"/],
    ['port too large', ['--port', '70000', modules.app], /--port: expected an integer/],
    ['workers zero', ['--workers', '0', modules.app], /--workers: expected an integer from 1 to 1024, got "0"/],
    ['input mode', ['--input', 'lines', modules.app], /--input: expected buffer or stream, got "lines"/],
    ['log level', ['--log-level', 'loud', modules.app], /--log-level: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"/],
    ['prefix', ['--prefix', 'legacy', modules.app], /--prefix: expected a path starting with \/, got "legacy"/],
    ['graceful timeout', ['--graceful-timeout', '5s', modules.app], /--graceful-timeout: expected a number of seconds from 0 to 2147483, got "5s"/],
    ['graceful timeout past Node\'s timers', ['--graceful-timeout', '2147484', modules.app], /--graceful-timeout: expected a number of seconds from 0 to 2147483, got "2147484"/],
    ['body limit zero', ['--body-limit', '0', modules.app], /--body-limit: expected an integer from 1 to 9007199254740991, got "0"/],
    ['body limit with a unit', ['--body-limit', '5mb', modules.app], /--body-limit: expected an integer from 1 to 9007199254740991, got "5mb"/],
    ['keep-alive timeout zero (Fastify would read it as its default)', ['--keep-alive-timeout', '0', modules.app], /--keep-alive-timeout: expected a number of seconds from 0.001 to 2147483, got "0"/],
    ['request timeout', ['--request-timeout', '1m', modules.app], /--request-timeout: expected a number of seconds from 0 to 2147483, got "1m"/],
    ['trust proxy true', ['--trust-proxy', 'true', modules.app], /--trust-proxy: "true" would let every client choose its own REMOTE_ADDR \(X-Forwarded-For\); give the addresses of the proxies/],
    ['trust proxy hop count', ['--trust-proxy', '1', modules.app], /--trust-proxy: expected IP addresses, CIDR ranges, loopback, linklocal or uniquelocal, comma-separated; "1" is none of them/],
    ['trust proxy host name', ['--trust-proxy', '127.0.0.1, proxy.example', modules.app], /; "proxy\.example" is none of them/],
    ['trust proxy IPv4 range', ['--trust-proxy', '10.0.0.0/33', modules.app], /; "10\.0\.0\.0\/33" is none of them/],
    ['trust proxy IPv6 range', ['--trust-proxy', 'fd00::/129', modules.app], /; "fd00::\/129" is none of them/],
    ['trust proxy range twice', ['--trust-proxy', '10.0.0.0/8/8', modules.app], /; "10\.0\.0\.0\/8\/8" is none of them/],
    ['trust proxy named range with bits', ['--trust-proxy', 'loopback/8', modules.app], /; "loopback\/8" is none of them/],
    ['trust proxy empty entry', ['--trust-proxy', '127.0.0.1,', modules.app], /; "" is none of them/]
  ])
})
