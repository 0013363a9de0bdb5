// Small helpers from wsgiref.util and wsgiref.handlers that more than one module needs.

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailers', 'transfer-encoding', 'upgrade'
])

/** True for the HTTP/1.1 hop-by-hop header names a WSGI app may not set (wsgiref.util.is_hop_by_hop). */
export function isHopByHop (headerName: string): boolean {
  return HOP_BY_HOP.has(headerName.toLowerCase())
}

/** The RFC 9110 IMF-fixdate of a timestamp in milliseconds (wsgiref.handlers.format_date_time). */
export function formatDateTime (timestampMs: number): string {
  return new Date(timestampMs).toUTCString()
}
