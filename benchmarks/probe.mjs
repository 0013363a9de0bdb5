// In-server counters for `npm run bench:counts`, `npm run bench` and the promotion guard test: a
// window opened by GET /__counts/start?mode=gc|async|profile|allocations|none and closed by GET
// /__counts/stop, which answers with the requests served in the window and, per mode, the garbage
// collector's work (v8.GCProfiler: heap space sizes before and after every collection), the async
// resources created, by type, the share of CPU samples spent in process.nextTick itself, or the
// bytes allocated by each function (V8's sampling heap profiler).
import { createHook } from 'node:async_hooks'
import { Session } from 'node:inspector/promises'
import v8 from 'node:v8'

/** Bytes used in the spaces a scavenge promotes into (everything but the young generation). */
function oldBytes (spaces) {
  let bytes = 0
  for (const space of spaces) {
    if (space.spaceName !== 'new_space' && space.spaceName !== 'new_large_object_space') bytes += space.spaceUsedSize
  }
  return bytes
}

/**
 * What the collections of one window did. Between two collections every byte the heap grew by was
 * allocated; the old spaces' growth there is what V8 allocated in old space directly (pretenured).
 * A scavenge's growth of the old spaces is what it promoted.
 */
function gcSummary (profile, heapAtStart, heapAtEnd) {
  const summary = { allocated: 0, pretenured: 0, promoted: 0, scavenges: 0, markCompacts: 0, pauseMs: 0 }
  let used = heapAtStart.used
  let old = heapAtStart.old
  for (const { gcType, cost, beforeGC, afterGC } of profile.statistics) {
    summary.allocated += beforeGC.heapStatistics.usedHeapSize - used
    summary.pretenured += Math.max(0, oldBytes(beforeGC.heapSpaceStatistics) - old)
    summary.pauseMs += cost / 1000
    if (gcType === 'Scavenge') {
      summary.scavenges++
      summary.promoted += oldBytes(afterGC.heapSpaceStatistics) - oldBytes(beforeGC.heapSpaceStatistics)
    } else if (gcType === 'MarkSweepCompact') {
      summary.markCompacts++
    }
    used = afterGC.heapStatistics.usedHeapSize
    old = oldBytes(afterGC.heapSpaceStatistics)
  }
  summary.allocated += heapAtEnd.used - used
  summary.pretenured += Math.max(0, heapAtEnd.old - old)
  return summary
}

function heapNow () {
  return { used: v8.getHeapStatistics().used_heap_size, old: oldBytes(v8.getHeapSpaceStatistics().map((space) => ({ spaceName: space.space_name, spaceUsedSize: space.space_used_size }))) }
}

/**
 * V8's slow-process lottery (issue #17): in some processes the object literal in Node's
 * process.nextTick goes megamorphic during warm-up, and from then on every call takes V8's
 * runtime path — whatever server runs there. Such a process spends several percent of its CPU
 * samples in nextTick itself; a healthy one well under one percent.
 */
function nextTickShare (profile) {
  const nextTickNodes = new Set(profile.nodes
    .filter((node) => node.callFrame.functionName === 'nextTick' && node.callFrame.url.endsWith('task_queues'))
    .map((node) => node.id))
  const idle = new Set(profile.nodes.filter((node) => node.callFrame.functionName === '(idle)').map((node) => node.id))
  let busy = 0
  let inNextTick = 0
  for (const id of profile.samples) {
    if (idle.has(id)) continue
    busy++
    if (nextTickNodes.has(id)) inNextTick++
  }
  return busy === 0 ? 0 : inNextTick / busy
}

/** Who wrote the code at `url`: Node, a package, fastify-wsgi, the benchmark, or V8 (builtins have no file). */
function codeOwner (url) {
  if (url === '') return 'V8 builtins'
  if (url.startsWith('node:')) return 'Node'
  const packageName = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (packageName !== null) return packageName[1]
  if (url.includes('/dist/lib/')) return 'fastify-wsgi'
  return 'benchmark server and app'
}

/**
 * Bytes allocated by each function and by each code owner, from a sampling heap profile that kept
 * the samples of objects the collector already freed (a request's objects are garbage by the end
 * of the window). A function is named by its name, file and line; the profile's sizes are scaled
 * to estimate every byte, not only the sampled ones.
 */
function allocationsByFunction (profile) {
  const functions = new Map()
  const owners = new Map()
  const visit = (node) => {
    if (node.selfSize > 0) {
      const { functionName, url, lineNumber } = node.callFrame
      // Files by their last part: node:_http_outgoing, fastify/lib/reply.js, dist/lib/wsgi/handler.js.
      const file = url === '' ? '' : ` ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`
      const name = `${functionName || '(anonymous)'}${file}`
      functions.set(name, (functions.get(name) ?? 0) + node.selfSize)
      const owner = codeOwner(url)
      owners.set(owner, (owners.get(owner) ?? 0) + node.selfSize)
    }
    for (const child of node.children) visit(child)
  }
  visit(profile.head)
  return { functions: Object.fromEntries(functions), owners: Object.fromEntries(owners) }
}

/** Adds the /__counts routes to a benchmark server. */
export function addProbe (fastify) {
  let requests = 0
  fastify.server.on('request', () => { requests++ })
  let window = null

  fastify.get('/__counts/start', async (request, reply) => {
    const mode = request.query.mode ?? 'none'
    window = { mode, requests: 0, cpu: null, profiler: null, heap: null, hook: null, asyncResources: {}, session: null }
    if (mode === 'profile') {
      window.session = new Session()
      window.session.connect()
      await window.session.post('Profiler.enable')
      await window.session.post('Profiler.setSamplingInterval', { interval: 200 })
      await window.session.post('Profiler.start')
    }
    if (mode === 'allocations') {
      window.session = new Session()
      window.session.connect()
      // One sample per 64 bytes on average: a request's few thousand bytes get dozens of samples.
      await window.session.post('HeapProfiler.startSampling', { samplingInterval: 64, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
    }
    if (mode === 'async') {
      const counts = window.asyncResources
      window.hook = createHook({ init (_id, type) { counts[type] = (counts[type] ?? 0) + 1 } })
    }
    // Counting starts once this response is on its way: the window holds the load's requests only.
    reply.raw.once('finish', () => {
      requests = 0
      window.cpu = process.cpuUsage()
      if (mode === 'gc') {
        window.heap = heapNow()
        window.profiler = new v8.GCProfiler()
        window.profiler.start()
      }
      window.hook?.enable()
    })
    return 'started'
  })

  fastify.get('/__counts/stop', async () => {
    window.hook?.disable()
    // Fastify's request listener runs before the counter's: this request is not counted yet.
    const served = requests
    const cpu = process.cpuUsage(window.cpu)
    const result = { requests: served, cpuMicros: cpu.user + cpu.system, userMicros: cpu.user, systemMicros: cpu.system }
    if (window.mode === 'gc') result.gc = gcSummary(window.profiler.stop(), window.heap, heapNow())
    if (window.mode === 'async') result.asyncResources = window.asyncResources
    if (window.mode === 'profile') {
      const { profile } = await window.session.post('Profiler.stop')
      window.session.disconnect()
      result.nextTickShare = nextTickShare(profile)
    }
    if (window.mode === 'allocations') {
      const { profile } = await window.session.post('HeapProfiler.stopSampling')
      window.session.disconnect()
      result.allocations = allocationsByFunction(profile)
    }
    window = null
    return result
  })
}
