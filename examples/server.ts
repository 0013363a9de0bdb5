// The example server `npm start` runs: legacy-style apps mounted on Fastify beside a native route.
import Fastify from 'fastify'
import fastifyWsgi, { wsgiRewriteUrl } from 'fastify-wsgi'
import { hello } from './hello.js'
import { environDump } from './environ-dump.js'
import { form } from './form.js'
import { countdown } from './stream.js'
import { toolsApp } from './middleware.js'

const app = Fastify({ logger: true, rewriteUrl: wsgiRewriteUrl })

// A middleware stack (compose): each request logged when its body closes, routed by its first segment.
const tools = toolsApp({ hello, stream: countdown }, (record) => { app.log.info(record, 'wsgi request done') })
const mounts = { '/hello': hello, '/environ': environDump, '/form': form, '/stream': countdown, '/tools': tools }

for (const [prefix, wsgiApp] of Object.entries(mounts)) {
  // signal: the countdown (also under /tools) stops waiting once its client leaves, through fastify.signal.
  await app.register(fastifyWsgi, { prefix, app: wsgiApp, signal: true })
}
// A native Fastify route beside the mounts.
app.get('/', async () => ({ mounts: Object.keys(mounts), replyWsgi: '/direct/*' }))
// An app run from a route of our own, after Fastify's routing and hooks.
app.get('/direct/*', (_request, reply) => reply.wsgi(hello))

const { PORT = '3000', HOST = '127.0.0.1' } = process.env
await app.listen({ port: Number(PORT), host: HOST })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    app.log.info({ signal }, 'closing')
    // close() waits for the responses in flight (and their bodies' close()); a failure would crash with exit 1.
    app.close().then(() => process.exit(0))
  })
}
