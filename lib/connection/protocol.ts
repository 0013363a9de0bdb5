import type { IncomingMessage } from 'node:http'
import type { Http2ServerRequest } from 'node:http2'

/**
 * Whether a request arrived on an HTTP/2 stream. An HTTP/1 request line may
 * claim version 2.0 too: it has no stream, and counts as HTTP/1 (the environ
 * refuses its version). HTTP/2 streams are independent of each other; only an
 * HTTP/1 connection orders its requests and is ours to keep or close.
 */
export function isHttp2 (req: IncomingMessage | Http2ServerRequest): req is Http2ServerRequest {
  return req.httpVersionMajor === 2 && (req as { stream?: unknown }).stream !== undefined
}
