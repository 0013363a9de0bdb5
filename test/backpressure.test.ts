// Writing the body with backpressure over real sockets (docs/conformance.md D10; test_wsgiref's
// test_interrupted_write), and what an aborted response does to a client that stopped reading.
import { test } from 'tap'
import { connect, type Socket } from 'node:net'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { listenWithMount, waitFor } from './helpers/server.js'

const CHUNK = Buffer.alloc(64 * 1024, 'b')
const CHUNKS = 256 // 16 MiB

function * counted (onPull: () => void): Generator<Buffer> {
  for (let i = 0; i < CHUNKS; i++) {
    onPull()
    yield CHUNK
  }
}

const bodyKinds: Record<string, (onPull: () => void) => Iterable<Buffer> | AsyncIterable<Buffer>> = {
  'a generator': (onPull) => counted(onPull),
  'an async generator': (onPull) => (async function * () { yield * counted(onPull) })(),
  'a Node Readable': (onPull) => Readable.from(counted(onPull))
}

for (const [kind, makeBody] of Object.entries(bodyKinds)) {
  test(`D10: a large body from ${kind} to a client that stalls, then resumes, arrives whole, pulled no faster than it is read`, async (t) => {
    let pulled = 0
    let closes = 0
    const { port } = await listenWithMount(t, {
      app: (_environ, startResponse) => {
        startResponse('200 OK', [['Content-Type', 'application/octet-stream'], ['Content-Length', String(CHUNK.length * CHUNKS)]])
        return Object.assign(makeBody(() => { pulled++ }), { close: () => { closes++ } })
      }
    })
    const socket = connect({ port, host: '127.0.0.1' })
    socket.pause()
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    await sleep(300)
    const pulledWhileStalled = pulled
    let received = 0
    socket.on('data', (chunk: Buffer) => { received += chunk.length })
    socket.resume()
    await new Promise((resolve) => socket.once('close', resolve))
    t.ok(pulledWhileStalled < CHUNKS / 2, `only ${pulledWhileStalled} of ${CHUNKS} chunks pulled while the client did not read`)
    t.ok(received > CHUNK.length * CHUNKS, 'every body byte arrived, after the headers')
    t.equal(closes, 1)
  })
}

test('D10: a 1000-chunk body from a sync iterable goes out in a few socket writes, not one per chunk', async (t) => {
  const { fastify, origin } = await listenWithMount(t, {
    app: (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return (function * () { for (let i = 0; i < 1000; i++) yield 'x'.repeat(100) })()
    }
  })
  // Each call of a socket's _write or _writev is one write(2) or writev(2) system call.
  let flushes = 0
  fastify.server.on('connection', (socket: Socket & { _write: Function, _writev: Function }) => {
    const write = socket._write
    const writev = socket._writev
    socket._write = function (...args: unknown[]) { flushes++; return write.apply(this, args) }
    socket._writev = function (...args: unknown[]) { flushes++; return writev.apply(this, args) }
  })
  const response = await fetch(`${origin}/`)
  t.equal((await response.text()).length, 100_000)
  t.ok(flushes > 0 && flushes <= 20, `${flushes} socket writes for 1000 chunks`)
})

test('A3: an app failing while the client does not read: the connection is cut after the grace period', { timeout: 15000 }, async (t) => {
  const big = Buffer.alloc(16 * 1024 * 1024, 'w')
  const { port, logs, fastify } = await listenWithMount(t, {
    app: (_environ, startResponse) => {
      // The legacy write() cannot wait for drain: 16 MiB stay buffered for a client that reads nothing.
      startResponse('200 OK', [['Content-Type', 'text/plain']])(big)
      throw new Error('failed late')
    }
  })
  let closedAt = 0
  fastify.server.once('connection', (serverSide) => serverSide.on('close', () => { closedAt = Date.now() }))
  const socket = connect({ port, host: '127.0.0.1' })
  t.teardown(() => socket.destroy())
  socket.pause()
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitFor(() => logs.some((record) => record.level === 50), 2000)
  const failedAt = Date.now()
  t.match(logs.find((record) => record.level === 50)?.msg, 'after the response started')
  await sleep(1000)
  t.equal(closedAt, 0, 'still flushing what was written while the grace period runs')
  await waitFor(() => closedAt !== 0, 8000)
  t.ok(closedAt - failedAt >= 4500, `cut ${closedAt - failedAt} ms after the failure`)
})
