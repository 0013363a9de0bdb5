// `npm run bench`: every contender in its own server process (fresh every round), autocannon
// driven from this process, warm-up then short measured runs taking turns (A B C, C B A …),
// medians reported as a markdown table in benchmarks/RESULTS.md. `--quick` (CI): one short round over a subset,
// checking only that every contender answers correctly; it records nothing and judges no speed.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { appendResults, machine, median } from './report.mjs'

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    cycles: { type: 'string', default: '4' },
    duration: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '1' },
    contenders: { type: 'string' },
    scenarios: { type: 'string' }
  }
})

const ECHO_BODY = Buffer.alloc(16 * 1024, 'e')
const SCENARIOS = [
  { name: 'hello', path: '/hello', quick: true },
  { name: 'hello -p 10', path: '/hello', pipelining: 10 },
  { name: 'legacy', path: '/legacy?name=ada&x=1', headers: { cookie: 'theme=dark; session=abc123', 'user-agent': 'bench/1' }, quick: true },
  { name: '64 KiB', path: '/64k' },
  { name: '1 MiB / 16 chunks', path: '/1m', quick: true },
  { name: '1 MiB file', path: '/file', quick: true },
  { name: 'async 100 chunks', path: '/async' },
  { name: 'POST 16 KiB echo', path: '/echo', method: 'POST', body: ECHO_BODY, headers: { 'content-type': 'application/octet-stream' }, quick: true },
  { name: '404 in app', path: '/missing', expectStatus: 404 }
]
const CONTENDERS = ['native', 'native-hijack', 'wsgi-mount', 'wsgi-onsend', 'wsgi-reply', 'express', 'middie', 'node-http', 'cli-2-workers']

const contenders = args.contenders?.split(',') ?? CONTENDERS
const scenarios = SCENARIOS.filter((scenario) =>
  args.scenarios ? args.scenarios.split(',').includes(scenario.name) : !args.quick || scenario.quick)
const rounds = args.quick ? 1 : Number(args.rounds)
const cycles = args.quick ? 1 : Number(args.cycles)
const duration = args.quick ? 1 : Number(args.duration)
const warmup = args.quick ? 0 : Number(args.warmup)

async function startServer (contender) {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./servers.mjs', import.meta.url)), contender], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  let output = ''
  for await (const chunk of child.stdout) {
    output += chunk
    const match = /READY (\d+)/.exec(output)
    if (match) return { child, exited, port: Number(match[1]) }
  }
  throw new Error(`${contender} did not start`)
}

async function stopServers (servers) {
  for (const { child } of servers) child.kill()
  await Promise.all(servers.map(({ exited }) => exited))
}

async function cpuMicros (port) {
  const usage = await (await fetch(`http://127.0.0.1:${port}/__cpu`)).json()
  return usage.user + usage.system
}

function load (port, scenario, seconds) {
  return autocannon({
    url: `http://127.0.0.1:${port}${scenario.path}`,
    method: scenario.method ?? 'GET',
    headers: scenario.headers,
    body: scenario.body,
    connections: 50,
    pipelining: scenario.pipelining ?? 1,
    duration: seconds
  })
}

/** One measured run; throws when the contender answered anything but the expected status. */
async function measure (contender, port, scenario) {
  const cpuBefore = await cpuMicros(port)
  const result = await load(port, scenario, duration)
  const cpu = await cpuMicros(port) - cpuBefore
  const expected = scenario.expectStatus ?? 200
  const unexpected = expected === 200 ? result.non2xx : result.requests.total - (result.statusCodeStats[expected]?.count ?? 0)
  if (result.errors > 0 || result.timeouts > 0 || unexpected > 0 || result.requests.total === 0) {
    throw new Error(`${contender} / ${scenario.name}: ${result.errors} errors, ${result.timeouts} timeouts, ${unexpected} unexpected statuses of ${result.requests.total}`)
  }
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    mibPerSecond: result.throughput.average / 1024 / 1024,
    cpuPerRequest: cpu / result.requests.total
  }
}

/** The median over every cycle of every round of a contender's value relative to native's in the same cycle. */
function pairedRatio (runs, contender, key) {
  return median(runs[contender].map((run, i) => run[key] / runs.native[i][key]))
}

function table (runs) {
  const lines = []
  for (const scenario of scenarios) {
    const byContender = runs[scenario.name]
    const stats = (contender, key) => median(byContender[contender].map((run) => run[key]))
    const ratio = (contender, key) => contenders.includes('native') ? pairedRatio(byContender, contender, key) : NaN
    lines.push(`### ${scenario.name}${scenario.pipelining ? '' : ' (-c 50)'}`, '',
      '| contender | req/s | × native | p50 ms | p99 ms | MiB/s | CPU µs/req | × native CPU |',
      '|---|---|---|---|---|---|---|---|')
    for (const contender of contenders) {
      lines.push(`| ${contender} | ${stats(contender, 'rps').toFixed(0)} | ${ratio(contender, 'rps').toFixed(2)} | ${stats(contender, 'p50')} | ${stats(contender, 'p99')} | ${stats(contender, 'mibPerSecond').toFixed(1)} | ${stats(contender, 'cpuPerRequest').toFixed(1)} | ${ratio(contender, 'cpuPerRequest').toFixed(2)} |`)
    }
    lines.push('')
  }
  return lines.join('\n')
}

const runs = Object.fromEntries(scenarios.map((scenario) => [scenario.name, Object.fromEntries(contenders.map((c) => [c, []]))]))
for (let round = 0; round < rounds; round++) {
  // Fresh server processes every round: a process that happens to run slow (JIT, memory layout,
  // its place on the machine) then skews one round of its contender, not all of them.
  const servers = {}
  try {
    for (const contender of contenders) servers[contender] = await startServer(contender)
    for (const scenario of scenarios) {
      if (warmup > 0) for (const contender of contenders) await load(servers[contender].port, scenario, warmup)
      // Short runs taking turns, every other cycle in reverse: the machine's speed drifts over
      // seconds, and contenders compared within one cycle meet the same drift.
      for (let cycle = 0; cycle < cycles; cycle++) {
        for (const contender of cycle % 2 === 0 ? contenders : [...contenders].reverse()) {
          runs[scenario.name][contender].push(await measure(contender, servers[contender].port, scenario))
          process.stderr.write('.')
        }
      }
    }
  } finally {
    await stopServers(Object.values(servers))
  }
}
process.stderr.write('\n')
if (args.quick) {
  console.log(`bench --quick: ${contenders.length} contenders × ${scenarios.length} scenarios answered correctly`)
} else {
  const header = `${await machine()}. ${rounds} rounds, each with fresh server processes and, per scenario, ${warmup} s of warm-up then ${cycles} cycles of ${duration} s runs taking turns; medians over all runs. autocannon -c 50 in the parent process, each server in its own process. "× native" is the median of the ratios to native within one cycle.`
  const body = `${header}\n\n${table(runs)}`
  console.log(body)
  await appendResults('Request throughput (benchmarks/run.mjs)', body)
}
