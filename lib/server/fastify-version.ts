import Fastify, { type LogController } from 'fastify'
import { FST_WSGI_FASTIFY_VERSION } from '../errors.js'

/**
 * Fastify's LogController, which the access log extends: the reason makeServer
 * needs Fastify 5.10. The plugin itself still loads on any Fastify 5, so an
 * older one is refused here, by version, rather than with "Class extends value undefined".
 */
export function checkFastifyVersion (): typeof LogController {
  const controller = (Fastify as unknown as { LogController?: typeof LogController }).LogController
  // An instance is the one place an older Fastify tells its version.
  if (controller === undefined) throw new FST_WSGI_FASTIFY_VERSION(Fastify().version)
  return controller
}
