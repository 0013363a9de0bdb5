// `npm run bench:counts`: what one request costs the server, in counts that timing noise cannot
// move. Each contender runs in fresh server processes under load (wrk when on PATH, else
// autocannon); the server counts its own requests over a window (probe.mjs) and reports, per
// request: bytes allocated, bytes allocated straight into old space (pretenured), bytes promoted,
// scavenges, mark-compacts and GC pause (v8.GCProfiler), at default flags and with a fixed 16 MB
// semi-space; async resources by type (async_hooks); syscalls by type (strace -c, when on PATH).
// Medians over the processes; the table goes to RESULTS.md. `--allocations` instead says which
// functions allocate those bytes (V8's sampling heap profiler, which slows the server down tenfold
// but does not change what a request allocates); `--callgrind` counts instructions per request
// under valgrind (slow: over a minute per contender and scenario).
import './node-option.mjs'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { BROWSER_HEADERS } from './apps.mjs'
import { HAVE_H2LOAD, clientName, load, onPath } from './load.mjs'
import { appendResults, machine, median } from './report.mjs'
import { startServer } from './server-process.mjs'

const { values: args } = parseArgs({
  options: {
    processes: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    contenders: { type: 'string', default: 'native,native-hijack,wsgi-mount,wsgi-onsend' },
    quick: { type: 'boolean', default: false },
    allocations: { type: 'boolean', default: false },
    callgrind: { type: 'boolean', default: false }
  }
})

const SCENARIOS = [
  { name: 'hello', path: '/hello' },
  { name: 'hello, 11 request headers, /app prefix', path: '/app/hello', headers: BROWSER_HEADERS },
  // h2load from Debian's nghttp2-client; without it, HTTP/1.1 only.
  ...(HAVE_H2LOAD ? [{ name: 'HTTP/2 hello', path: '/hello', h2: true }] : [])
]
/** How each scenario's load is made, for the tables' headings. */
const loadDescription = (scenario) => `${clientName(scenario, scenario.h2)}${scenario.h2 ? ' -c 20 -m 10' : ' -c 50'}`
const FLAG_SETS = [
  { name: 'default flags', flags: [] },
  // A common production tuning; a fixed young generation makes promotion deterministic.
  { name: 'fixed 16 MB semi-space', flags: ['--min-semi-space-size=16', '--max-semi-space-size=16'] }
]
const contenders = args.contenders.split(',')
const processes = args.quick ? 1 : Number(args.processes)
const seconds = args.quick ? 1 : Number(args.seconds)
const HAVE_STRACE = onPath('strace')
const CALLGRIND = args.callgrind
if (CALLGRIND && !onPath('valgrind')) {
  console.error('--callgrind needs valgrind (Debian: apt-get install valgrind)')
  process.exit(2)
}
// Under valgrind a server runs some fifty times slower: the JIT needs this long to settle.
const CALLGRIND_WARMUP_SECONDS = 60
const CALLGRIND_SECONDS = 10

async function probe (server, path) {
  const body = await server.get(`/__counts/${path}`)
  return path.startsWith('stop') ? JSON.parse(body) : body
}

async function loadChecked (server, scenario) {
  const result = await load({ url: server.origin + scenario.path, scenario, seconds, h2: server.h2 })
  if (result.errors > 0 || result.requests === 0) throw new Error(`${server.origin}${scenario.path}: ${result.errors} errors in ${result.requests} requests`)
  return result
}

/** syscalls by name over one load window, from strace attached to the server's threads. */
async function syscalls (server, scenario) {
  const file = join(tmpdir(), `fastify-wsgi-strace-${process.pid}.txt`)
  const strace = spawn('strace', ['-c', '-f', '-q', '-o', file, '-p', String(server.pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
  const stopped = new Promise((resolve) => strace.once('exit', resolve))
  // strace says nothing once attached with -q: give it a moment to reach every thread.
  await new Promise((resolve) => setTimeout(resolve, 300))
  await probe(server, 'start?mode=none')
  await loadChecked(server, scenario)
  const { requests } = await probe(server, 'stop')
  strace.kill('SIGINT')
  await stopped
  const counts = {}
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const columns = line.trim().split(/\s+/)
    // % time, seconds, usecs/call, calls, [errors,] syscall
    if (columns.length >= 5 && /^\d/.test(columns[0]) && columns.at(-1) !== 'total') counts[columns.at(-1)] = Number(columns[3]) / requests
  }
  rmSync(file, { force: true })
  return counts
}

/**
 * Instructions per request, counted by callgrind in one server process over a window after a long
 * warm-up (JIT compilation would otherwise dominate). Node runs with --single-threaded, so the
 * collector's and the compiler's work is on the counted thread too.
 */
async function instructions (contender, scenario) {
  const dir = tmpdir()
  const prefix = `fastify-wsgi-callgrind-${process.pid}-${contender}`
  const server = await startServer(contender, {
    nodeFlags: ['--single-threaded'],
    env: { BENCH_PROBE: '1' },
    wrapper: ['valgrind', '--tool=callgrind', '-q', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${join(dir, prefix)}.%p`]
  })
  const control = (...options) => spawnSync('callgrind_control', [...options, String(server.pid)], { stdio: 'ignore' })
  let requests
  try {
    await load({ url: server.origin + scenario.path, scenario, seconds: CALLGRIND_WARMUP_SECONDS })
    control('-i', 'on')
    await probe(server, 'start?mode=none')
    await load({ url: server.origin + scenario.path, scenario, seconds: CALLGRIND_SECONDS })
    requests = (await probe(server, 'stop')).requests
    control('-i', 'off')
  } finally {
    await server.stop()
  }
  let total = 0
  for (const file of readdirSync(dir).filter((name) => name.startsWith(prefix))) {
    const totals = /^totals: (\d+)/m.exec(readFileSync(join(dir, file), 'utf8'))
    if (totals !== null) total += Number(totals[1])
    rmSync(join(dir, file), { force: true })
  }
  return total / requests
}

/** Every count of one server process, for one scenario under one flag set. */
async function measure (contender, flagSet, scenario) {
  const server = await startServer(contender, { nodeFlags: flagSet.flags, env: { BENCH_PROBE: '1' }, h2: scenario.h2 })
  try {
    // Warm-up: the JIT and the heap settle before anything is counted.
    await loadChecked(server, scenario)
    await probe(server, 'start?mode=gc')
    const loadResult = await loadChecked(server, scenario)
    const gcWindow = await probe(server, 'stop')
    const n = gcWindow.requests
    const gc = gcWindow.gc
    const counts = {
      allocated: gc.allocated / n,
      pretenured: gc.pretenured / n,
      promoted: gc.promoted / n,
      scavengesPer10k: gc.scavenges * 1e4 / n,
      markCompactsPer100k: gc.markCompacts * 1e5 / n,
      pauseMicros: gc.pauseMs * 1000 / n,
      cpuMicros: gcWindow.cpuMicros / n,
      clientCpuMicros: loadResult.clientCpu / n
    }
    if (flagSet.flags.length === 0) {
      await probe(server, 'start?mode=async')
      await loadChecked(server, scenario)
      const asyncWindow = await probe(server, 'stop')
      counts.asyncResources = Object.fromEntries(Object.entries(asyncWindow.asyncResources).map(([type, count]) => [type, count / asyncWindow.requests]))
      if (HAVE_STRACE) counts.syscalls = await syscalls(server, scenario)
    }
    return counts
  } finally {
    await server.stop()
  }
}

/** Bytes allocated per request by each function and each code owner, in one server process. */
async function allocations (contender, scenario) {
  const server = await startServer(contender, { env: { BENCH_PROBE: '1' }, h2: scenario.h2 })
  try {
    await loadChecked(server, scenario)
    await probe(server, 'start?mode=allocations')
    await loadChecked(server, scenario)
    const { requests, allocations } = await probe(server, 'stop')
    const perRequest = (bytes) => new Map(Object.entries(bytes).map(([name, value]) => [name, value / requests]))
    return { functions: perRequest(allocations.functions), owners: perRequest(allocations.owners) }
  } finally {
    await server.stop()
  }
}

/** Functions allocating under this many bytes per request for every contender share one row. */
const ALLOCATION_ROW_THRESHOLD = 16

/** One row per name (largest first), one column per contender: medians over the processes of bytes per request. */
function allocationTable (title, samples, threshold) {
  const names = new Set(contenders.flatMap((contender) => samples[contender].flatMap((sample) => [...sample.keys()])))
  const bytes = (contender, name) => median(samples[contender].map((sample) => sample.get(name) ?? 0))
  const biggest = (name) => Math.max(...contenders.map((contender) => bytes(contender, name)))
  const rows = [...names].filter((name) => biggest(name) >= threshold).sort((a, b) => biggest(b) - biggest(a))
  const rest = [...names].filter((name) => biggest(name) < threshold)
  const line = (label, values) => `| ${label} | ${values.map((value) => value.toFixed(0)).join(' | ')} |`
  return [`| ${title} | ${contenders.join(' | ')} |`, `|---|${contenders.map(() => '---:|').join('')}`,
    ...rows.map((name) => line(`\`${name}\``, contenders.map((contender) => bytes(contender, name)))),
    ...(rest.length === 0 ? [] : [line(`${rest.length} other functions`, contenders.map((contender) => rest.reduce((sum, name) => sum + bytes(contender, name), 0)))]),
    line('**total**', contenders.map((contender) => median(samples[contender].map((sample) => [...sample.values()].reduce((sum, value) => sum + value, 0)))))].join('\n')
}

if (args.allocations) {
  const sections = []
  for (const scenario of SCENARIOS) {
    const samples = Object.fromEntries(contenders.map((contender) => [contender, []]))
    for (let i = 0; i < processes; i++) {
      for (const contender of contenders) {
        samples[contender].push(await allocations(contender, scenario))
        process.stderr.write('.')
      }
    }
    const pick = (part) => Object.fromEntries(contenders.map((contender) => [contender, samples[contender].map((sample) => sample[part])]))
    sections.push(`#### ${scenario.name} (${loadDescription(scenario)}): by code owner\n\n${allocationTable('code', pick('owners'), 0)}`)
    sections.push(`#### ${scenario.name} (${loadDescription(scenario)}): by function\n\n${allocationTable('function (file:line)', pick('functions'), ALLOCATION_ROW_THRESHOLD)}`)
  }
  process.stderr.write('\n')
  const body = `${await machine()}. Bytes allocated per request, from V8's sampling heap profiler (one sample per 64 bytes on average, counting objects already freed), by the code that allocated them: a constructor, or the function a small one was inlined into, so a row can move between a caller and its callee from one process to the next. ${processes} fresh server processes per contender and scenario, contenders taking turns, a ${seconds} s warm-up then a ${seconds} s window each, the client named in each heading; medians over the processes. Function rows: ${ALLOCATION_ROW_THRESHOLD} bytes per request or more for some contender. The totals are estimates from samples: they agree with the allocated bytes of the GC counts to a few percent.\n\n${sections.join('\n\n')}`
  console.log(body)
  if (!args.quick) await appendResults('Allocations per request by code (benchmarks/counts.mjs --allocations)', body)
  process.exit(0)
}

if (CALLGRIND) {
  // A mode of its own: under valgrind one contender takes over a minute per scenario.
  const lines = []
  // HTTP/1.1 only: the HTTP/2 scenario's load is not made under valgrind.
  for (const scenario of SCENARIOS.filter((scenario) => !scenario.h2)) {
    const counts = {}
    for (const contender of contenders) {
      counts[contender] = await instructions(contender, scenario)
      process.stderr.write('.')
    }
    lines.push(`#### ${scenario.name}`, '', '| contender | instructions / req | × native |', '|---|---|---|',
      ...contenders.map((contender) => `| ${contender} | ${counts[contender].toFixed(0)} | ${counts.native === undefined ? '–' : (counts[contender] / counts.native).toFixed(2)} |`), '')
  }
  process.stderr.write('\n')
  const body = `${await machine()}. callgrind (valgrind) in one fresh server process per contender and scenario, node --single-threaded (the collector and the compiler work on the counted thread), ${CALLGRIND_WARMUP_SECONDS} s of warm-up under valgrind, then ${CALLGRIND_SECONDS} s counted; ${clientName(SCENARIOS[0], false)} -c 50 as the client. Read with care: under valgrind V8 never stops compiling (TurboFan's own functions took 40 % of the counted instructions for native Fastify and 50 % for the mount in one annotated run), so these are not steady-state counts and overstate the difference that CPU time shows.\n\n${lines.join('\n')}`
  console.log(body)
  if (!args.quick) await appendResults('Instructions per request (benchmarks/counts.mjs --callgrind)', body)
  process.exit(0)
}

const results = {}
for (const scenario of SCENARIOS) {
  for (const flagSet of FLAG_SETS) {
    for (const contender of contenders) (results[`${scenario.name}|${flagSet.name}|${contender}`] = [])
    // Fresh processes, contenders taking turns: a slow process or a slow minute skews one sample.
    for (let i = 0; i < processes; i++) {
      for (const contender of contenders) {
        results[`${scenario.name}|${flagSet.name}|${contender}`].push(await measure(contender, flagSet, scenario))
        process.stderr.write('.')
      }
    }
  }
}
process.stderr.write('\n')

const fixed = (digits) => (value) => Number.isFinite(value) ? value.toFixed(digits) : '–'
function medianOf (samples, pick) {
  return median(samples.map(pick).map((value) => value ?? 0))
}

function gcTable (scenario, flagSet) {
  const lines = [`#### ${scenario.name} (${loadDescription(scenario)}) — ${flagSet.name}`, '',
    '| contender | allocated B/req | pretenured B/req | promoted B/req | scavenges /10k req | mark-compacts /100k req | GC pause µs/req | server CPU µs/req | client CPU µs/req |',
    '|---|---|---|---|---|---|---|---|---|']
  for (const contender of contenders) {
    const samples = results[`${scenario.name}|${flagSet.name}|${contender}`]
    const cell = (pick, digits) => fixed(digits)(medianOf(samples, pick))
    const spread = (pick, digits) => {
      const values = samples.map(pick)
      return values.length > 1 ? ` (${fixed(digits)(Math.min(...values))}–${fixed(digits)(Math.max(...values))})` : ''
    }
    lines.push(`| ${contender} | ${cell((s) => s.allocated, 0)} | ${cell((s) => s.pretenured, 0)} | ${cell((s) => s.promoted, 1)}${spread((s) => s.promoted, 1)} | ${cell((s) => s.scavengesPer10k, 1)} | ${cell((s) => s.markCompactsPer100k, 1)} | ${cell((s) => s.pauseMicros, 2)} | ${cell((s) => s.cpuMicros, 1)} | ${cell((s) => s.clientCpuMicros, 1)} |`)
  }
  return lines.join('\n')
}

/** One row per contender, one column per name that reaches `threshold` per request for any of them. */
function perTypeTable (title, scenario, pick, threshold) {
  const rows = contenders.map((contender) => [contender, results[`${scenario.name}|default flags|${contender}`]])
  const names = new Set()
  for (const [, samples] of rows) {
    for (const sample of samples) for (const [name, value] of Object.entries(pick(sample) ?? {})) if (value >= threshold) names.add(name)
  }
  const columns = [...names].sort()
  const lines = [`#### ${scenario.name} (${loadDescription(scenario)}) — ${title} per request (default flags)`, '', `| contender | ${columns.join(' | ')} |`, `|---|${columns.map(() => '---|').join('')}`]
  for (const [contender, samples] of rows) {
    lines.push(`| ${contender} | ${columns.map((name) => fixed(2)(medianOf(samples, (s) => pick(s)?.[name]))).join(' | ')} |`)
  }
  return lines.join('\n')
}

const sections = []
for (const scenario of SCENARIOS) {
  for (const flagSet of FLAG_SETS) sections.push(gcTable(scenario, flagSet))
  sections.push(perTypeTable('async resources', scenario, (s) => s.asyncResources, 0.01))
  if (HAVE_STRACE) sections.push(perTypeTable('syscalls', scenario, (s) => s.syscalls, 0.01))
}
const header = `${await machine()}. ${processes} fresh server processes per contender, scenario and flag set, contenders taking turns; per process a ${seconds} s warm-up, then a ${seconds} s window per kind of count, the client named in each heading. Medians over the processes (promotion: with the range). "pretenured": bytes V8 allocated straight into old space; "promoted": bytes scavenges copied into old space.${HAVE_STRACE ? '' : ' strace was not on PATH: no syscall counts.'}`
const body = `${header}\n\n${sections.join('\n\n')}`
console.log(body)
if (!args.quick) await appendResults('Per-request counts (benchmarks/counts.mjs)', body)
