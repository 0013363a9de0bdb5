// The allocation guard (issue #17): what fastify-wsgi's own code allocates per hello request,
// counted inside a benchmark server by V8's sampling heap profiler (the probe's allocations
// mode, which `npm run bench:counts -- --allocations` tabulates). The environ, the handler with
// its wsgi.errors stream, the two bound callables and the header list for Node come to about 680
// bytes, or about 810 when V8 inlines Node's writeHead (and its status line) into ours. A copy of
// the environ or of a header list per request would cross the bound (a spread of the environ
// added 240 bytes), where timing noise hides it.
import { test } from 'tap'
import { countWindow } from './helpers/counts.js'

const WARM_UP = 5000
const MEASURED = 5000
const CONNECTIONS = 20
/** Bytes per hello request allocated by functions in dist/lib, with room for the inlining above. */
const OWN_BYTES_BOUND = 1000

interface Allocations {
  requests: number
  allocations: { owners: Record<string, number> }
}

test('a mount allocates no more than its environ, handler and header list per hello request', { timeout: 60_000 }, async (t) => {
  const counts = await countWindow<Allocations>('wsgi-mount', { path: '/hello', mode: 'allocations', warmUp: WARM_UP, measured: MEASURED, connections: CONNECTIONS })
  t.equal(counts.requests, MEASURED, 'the window held the measured requests')
  const perRequest = (bytes: number | undefined): number => (bytes ?? 0) / counts.requests
  const total = Object.values(counts.allocations.owners).reduce((sum, bytes) => sum + bytes, 0)
  // Node's parser and streams alone allocate several KB per request: a profile that saw less missed the load.
  t.ok(perRequest(total) > 4000, `${perRequest(total).toFixed(0)} bytes per request in all`)
  const own = perRequest(counts.allocations.owners['fastify-wsgi'])
  // The environ alone is over 200 bytes: less means the profile did not see our code.
  t.ok(own > 200, 'the profile counts fastify-wsgi\'s objects')
  t.ok(own <= OWN_BYTES_BOUND, `fastify-wsgi allocated ${own.toFixed(0)} bytes per request (bound ${OWN_BYTES_BOUND})`)
})
