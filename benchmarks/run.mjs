// `npm run bench`: request throughput with the server as the bottleneck. Every contender runs in
// its own server process, fresh every round (one process can run 20 % slower than the next for
// its whole life); the client is wrk (HTTP/1.1) or h2load (HTTP/2) when on PATH — C clients that
// cost a fraction of a server's CPU per request — and autocannon otherwise. Per scenario, each
// contender is warmed up, then measured in cycles of short runs taking turns (A B C, C B A).
// A run whose client used more CPU than the server is flagged client-bound: its ratio says more
// about the client than about the contenders. Each Fastify server process is also sampled once
// (a CPU profile under load, after its warm-up) for V8's slow-process lottery, and the table gives
// the ratio over healthy processes beside the one over all. Results go to benchmarks/RESULTS.md.
// `--quick` (CI): one short round over a subset, checking only that every contender answers
// correctly; it records nothing and judges no speed.
import './node-option.mjs'
import { parseArgs } from 'node:util'
import { BROWSER_HEADERS } from './apps.mjs'
import { HAVE_H2LOAD, clientName, load, onPath } from './load.mjs'
import { appendResults, machine, median } from './report.mjs'
import { startServer } from './server-process.mjs'

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '8' },
    cycles: { type: 'string', default: '1' },
    duration: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '1' },
    contenders: { type: 'string' },
    scenarios: { type: 'string' }
  }
})

const ECHO_BODY = Buffer.alloc(16 * 1024, 'e')
const SCENARIOS = [
  { name: 'hello', path: '/hello', quick: true },
  { name: 'hello 11 headers /app', path: '/app/hello', headers: BROWSER_HEADERS },
  { name: 'legacy', path: '/legacy?name=ada&x=1', headers: { cookie: 'theme=dark; session=abc123', 'user-agent': 'bench/1' }, quick: true },
  { name: '64 KiB', path: '/64k' },
  { name: '1 MiB / 16 chunks', path: '/1m', quick: true },
  { name: '1 MiB file', path: '/file', quick: true },
  { name: 'async 100 chunks', path: '/async' },
  // autocannon drives it (wrk sends no body without a script), and autocannon loses a few requests
  // to a server that closes every connection after its response, as gunicorn's sync workers do.
  { name: 'POST 16 KiB echo', path: '/echo', method: 'POST', body: ECHO_BODY, headers: { 'content-type': 'application/octet-stream' }, quick: true, without: ['gunicorn-2-workers'] },
  { name: '404 in app', path: '/missing', expectStatus: 404 },
  { name: 'HTTP/2 hello', path: '/hello', h2: true, quick: true },
  { name: 'HTTP/2 1 MiB / 16 chunks', path: '/1m', h2: true }
]
// gunicorn with two sync workers (Debian: apt-get install gunicorn) is the bar for the CLI, and native
// Fastify in two cluster workers what the CLI can reach on the same machine.
const CONTENDERS = ['native', 'native-hijack', 'wsgi-mount', 'wsgi-onsend', 'wsgi-reply', 'express', 'middie', 'node-http', 'native-2-workers', 'cli-2-workers',
  ...(onPath('gunicorn') ? ['gunicorn-2-workers'] : [])]
/** The contenders whose server process can profile itself (probe.mjs): the single-process Fastify ones. */
const PROBED = new Set(['native', 'native-hijack', 'wsgi-mount', 'wsgi-onsend', 'wsgi-reply', 'express', 'middie'])
/** Share of busy CPU samples in process.nextTick above which a process is one of the slow ones (healthy: under 1 %). */
const SLOW_NEXT_TICK_SHARE = 0.03
/** The contenders that speak HTTP/2 (h2c): the Fastify servers. */
const H2_CONTENDERS = new Set(['native', 'native-hijack', 'wsgi-mount', 'wsgi-onsend', 'wsgi-reply'])

const contenders = args.contenders?.split(',') ?? CONTENDERS
const chosen = SCENARIOS.filter((scenario) =>
  args.scenarios ? args.scenarios.split(',').includes(scenario.name) : !args.quick || scenario.quick)
// HTTP/2 needs h2load: without it those scenarios are left out, and the run says so.
const scenarios = chosen.filter((scenario) => HAVE_H2LOAD || !scenario.h2)
if (scenarios.length < chosen.length) process.stderr.write('h2load is not on PATH (Debian: apt-get install nghttp2-client): the HTTP/2 scenarios are left out\n')
const rounds = args.quick ? 1 : Number(args.rounds)
const cycles = args.quick ? 1 : Number(args.cycles)
const duration = args.quick ? 1 : Number(args.duration)
const warmup = args.quick ? 0 : Number(args.warmup)

function contendersOf (scenario) {
  return contenders.filter((contender) => (!scenario.h2 || H2_CONTENDERS.has(contender)) && !scenario.without?.includes(contender))
}

async function startContender (contender, h2) {
  const server = await startServer(contender, { h2, env: { BENCH_PROBE: PROBED.has(contender) ? '1' : '0' } })
  return { ...server, slow: undefined }
}

/** The server's CPU time in µs, user (JavaScript, V8, libuv) and system (the kernel: syscalls, TCP). */
async function cpuMicros (server) {
  const { user, system } = JSON.parse(await server.get('/__cpu'))
  return { user, system }
}

/** Samples a warmed-up process under load for V8's slow-process lottery (probe.mjs). */
async function classify (server, scenario) {
  await server.get('/__counts/start?mode=profile')
  await load({ url: url(server, scenario), scenario, seconds: 1, h2: server.h2 })
  const { nextTickShare } = JSON.parse(await server.get('/__counts/stop'))
  server.slow = nextTickShare > SLOW_NEXT_TICK_SHARE
}

function url (server, scenario) {
  return `http://127.0.0.1:${server.port}${scenario.path}`
}

/** One measured run; throws when the contender answered anything but the expected status. */
async function measure (contender, server, scenario) {
  const cpuBefore = await cpuMicros(server)
  const result = await load({ url: url(server, scenario), scenario, seconds: duration, h2: scenario.h2 })
  const cpuAfter = await cpuMicros(server)
  if (result.errors > 0 || result.requests === 0) {
    throw new Error(`${contender} / ${scenario.name}: ${result.errors} errors or unexpected statuses in ${result.requests} requests`)
  }
  const user = (cpuAfter.user - cpuBefore.user) / result.requests
  const system = (cpuAfter.system - cpuBefore.system) / result.requests
  return { ...result, cpuPerRequest: user + system, userCpuPerRequest: user, systemCpuPerRequest: system, clientCpuPerRequest: result.clientCpu / result.requests, slow: server.slow }
}

/** The median over every cycle of every round of a contender's value relative to native's in the same cycle. */
function pairedRatio (runs, contender, key) {
  return median(runs[contender].map((run, i) => run[key] / runs.native[i][key]))
}

/** Median req/s of a contender over its healthy processes relative to native's, or NaN. */
function healthyRatio (runs, contender) {
  const healthy = (name) => runs[name].filter((run) => run.slow === false).map((run) => run.rps)
  const ours = healthy(contender)
  const natives = healthy('native')
  return ours.length === 0 || natives.length === 0 ? NaN : median(ours) / median(natives)
}

function table (runs) {
  const lines = []
  for (const scenario of scenarios) {
    const byContender = runs[scenario.name]
    const names = contendersOf(scenario)
    const stats = (contender, key) => median(byContender[contender].map((run) => run[key]))
    const range = (contender) => {
      const values = byContender[contender].map((run) => run.rps)
      return `${(Math.min(...values) / 1000).toFixed(1)}k–${(Math.max(...values) / 1000).toFixed(1)}k`
    }
    const ratio = (contender, key) => names.includes('native') ? pairedRatio(byContender, contender, key).toFixed(2) : '–'
    const healthy = (contender) => {
      const value = names.includes('native') ? healthyRatio(byContender, contender) : NaN
      return Number.isNaN(value) ? '–' : value.toFixed(2)
    }
    const slowCount = (contender) => {
      const samples = byContender[contender]
      return samples.some((run) => run.slow === undefined) ? '–' : `${samples.filter((run) => run.slow).length}/${samples.length}`
    }
    lines.push(`### ${scenario.name} (${clientName(scenario, scenario.h2)}${scenario.h2 ? ' -c 20 -m 10' : ' -c 50'})`, '',
      '| contender | req/s | × native | × native, healthy processes | slow processes | req/s range | p50 ms | p99 ms | MiB/s | server CPU µs/req | user / system µs/req | × native CPU | × native user CPU | client CPU µs/req | notes |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for (const contender of names) {
      const clientBound = byContender[contender].filter((run) => run.clientCpuPerRequest > run.cpuPerRequest).length
      const notes = clientBound > 0 ? `client-bound in ${clientBound}/${byContender[contender].length} runs` : ''
      lines.push(`| ${contender} | ${stats(contender, 'rps').toFixed(0)} | ${ratio(contender, 'rps')} | ${healthy(contender)} | ${slowCount(contender)} | ${range(contender)} | ${stats(contender, 'p50').toFixed(2)} | ${stats(contender, 'p99').toFixed(2)} | ${stats(contender, 'mibPerSecond').toFixed(1)} | ${stats(contender, 'cpuPerRequest').toFixed(1)} | ${stats(contender, 'userCpuPerRequest').toFixed(1)} / ${stats(contender, 'systemCpuPerRequest').toFixed(1)} | ${ratio(contender, 'cpuPerRequest')} | ${ratio(contender, 'userCpuPerRequest')} | ${stats(contender, 'clientCpuPerRequest').toFixed(1)} | ${notes} |`)
    }
    lines.push('')
  }
  return lines.join('\n')
}

const runs = Object.fromEntries(scenarios.map((scenario) => [scenario.name, Object.fromEntries(contendersOf(scenario).map((c) => [c, []]))]))
for (let round = 0; round < rounds; round++) {
  for (const h2 of [false, true]) {
    const roundScenarios = scenarios.filter((scenario) => Boolean(scenario.h2) === h2)
    if (roundScenarios.length === 0) continue
    // Fresh server processes every round: a process that happens to run slow (JIT, memory layout,
    // its place on the machine) then skews one round of its contender, not all of them.
    const servers = {}
    try {
      for (const contender of contendersOf(roundScenarios[0])) servers[contender] = await startContender(contender, h2)
      for (const [index, scenario] of roundScenarios.entries()) {
        const names = contendersOf(scenario)
        if (warmup > 0) {
          for (const contender of names) await load({ url: url(servers[contender], scenario), scenario, seconds: warmup, h2 })
        }
        // V8 settles a process's fate during its warm-up: sample each process once, after the first.
        if (index === 0 && !args.quick) {
          for (const contender of names) if (PROBED.has(contender)) await classify(servers[contender], scenario)
        }
        // Short runs taking turns, every other cycle in reverse: the machine's speed drifts over
        // seconds, and contenders compared within one cycle meet the same drift.
        for (let cycle = 0; cycle < cycles; cycle++) {
          const order = (round + cycle) % 2 === 0 ? names : [...names].reverse()
          for (const contender of order) {
            runs[scenario.name][contender].push(await measure(contender, servers[contender], scenario))
            process.stderr.write('.')
          }
        }
      }
    } finally {
      await Promise.all(Object.values(servers).map((server) => server.stop()))
    }
  }
}
process.stderr.write('\n')
if (args.quick) {
  console.log(`bench --quick: ${contenders.length} contenders × ${scenarios.length} scenarios answered correctly`)
} else {
  const header = `${await machine()}. ${rounds} rounds, each with fresh server processes and, per scenario, ${warmup} s of warm-up then ${cycles} cycle${cycles > 1 ? 's' : ''} of ${duration} s runs taking turns (reversed every other round); medians over all runs, so each figure is a median over ${rounds * cycles} runs of ${rounds} processes. Clients: wrk -t1 (HTTP/1.1), h2load (HTTP/2), autocannon where neither applies, each in its own process, the servers each in theirs. "× native" is the median of the ratios to native within one cycle, over all processes; "× native, healthy processes" compares the medians over the processes V8's slow-process lottery spared (a CPU profile of each process under load: over ${SLOW_NEXT_TICK_SHARE * 100} % of its busy samples in process.nextTick itself marks a slow one; "–": a contender that cannot be sampled). "user / system": the server's CPU split into its own work (JavaScript, V8, libuv) and the kernel's (syscalls, TCP), which is the same for every contender writing the same bytes. "client-bound": the client used more CPU than the server in that run.`
  const body = `${header}\n\n${table(runs)}`
  console.log(body)
  // A narrowed run gets a section of its own: it must not replace the full run's tables.
  const narrowed = args.contenders === undefined ? '' : ` --contenders ${args.contenders}`
  await appendResults(`Request throughput (benchmarks/run.mjs${narrowed}${args.scenarios === undefined ? '' : ` --scenarios '${args.scenarios}'`})`, body)
}
