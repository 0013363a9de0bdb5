// Writing the body with backpressure over real sockets (checklist D10; test_wsgiref's
// test_interrupted_write), and what an aborted response does to a client that stopped reading.
import { test } from 'tap'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { listenWithMount, waitFor } from './helpers/server.js'

const CHUNK = Buffer.alloc(64 * 1024, 'b')
const CHUNKS = 256 // 16 MiB

test('D10: a large body to a client that stalls, then resumes, arrives whole, pulled no faster than it is read', async (t) => {
  let pulled = 0
  let closes = 0
  const { port } = await listenWithMount(t, {
    app: (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'application/octet-stream'], ['Content-Length', String(CHUNK.length * CHUNKS)]])
      return Object.assign((function * () {
        for (let i = 0; i < CHUNKS; i++) {
          pulled++
          yield CHUNK
        }
      })(), { close: () => { closes++ } })
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

test('A3: an app failing while the client does not read: the connection is cut after the grace period', { timeout: 15000 }, async (t) => {
  const big = Buffer.alloc(16 * 1024 * 1024, 'w')
  const { port, logs, fastify } = await listenWithMount(t, {
    app: (_environ, startResponse) => {
      // The legacy write() cannot wait for drain: 16 MiB stay buffered for a client that reads nothing.
      startResponse('200 OK', [])(big)
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
