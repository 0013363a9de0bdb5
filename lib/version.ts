/** This package's version, for the default Server header (a test keeps it equal to package.json). */
export const VERSION = '0.1.0'

/** The default Server header and SERVER_SOFTWARE. */
export const SERVER_SOFTWARE = `fastify-wsgi/${VERSION}`
