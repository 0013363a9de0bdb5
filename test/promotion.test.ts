// The pretenuring guard (issue #17): a per-request closure stored on a per-request object once
// made V8 allocate every request's environ in old space, so each request's objects were promoted
// and collected by mark-compacts: about 2,600 promoted bytes per request where native Fastify
// promotes 1-2. With a fixed semi-space it shows within a few thousand requests, deterministically.
// The benchmark server runs in its own process and reports its collector's work itself.
import { test } from 'tap'
import { countWindow } from './helpers/counts.js'
const WARM_UP = 5000
const MEASURED = 20_000
const CONNECTIONS = 50
/** Native Fastify promotes 1-2 bytes per request here; the bug promoted over 2,000. */
const PROMOTED_BYTES_BOUND = 64

interface Counts { requests: number, gc: { promoted: number, pretenured: number, markCompacts: number } }

for (const [contender, path] of [['wsgi-mount', '/hello'], ['wsgi-mount', '/legacy?name=ada'], ['wsgi-onsend', '/hello'], ['wsgi-reply', '/hello']]) {
  test(`${contender} ${path}: requests promote no more than native's order of bytes under a fixed 16 MB semi-space`, { timeout: 30_000 }, async (t) => {
    const counts = await countWindow<Counts>(contender, {
      path, mode: 'gc', warmUp: WARM_UP, measured: MEASURED, connections: CONNECTIONS, nodeFlags: ['--min-semi-space-size=16', '--max-semi-space-size=16']
    })
    t.equal(counts.requests, MEASURED, 'the window held the measured requests')
    const promotedPerRequest = counts.gc.promoted / counts.requests
    t.ok(promotedPerRequest <= PROMOTED_BYTES_BOUND, `${promotedPerRequest.toFixed(1)} promoted bytes per request (bound ${PROMOTED_BYTES_BOUND})`)
    t.equal(counts.gc.markCompacts, 0, 'no mark-compact ran')
  })
}
