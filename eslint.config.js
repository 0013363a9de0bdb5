import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', '.tap/**', 'coverage/**', '.cache/**']
  }),
  {
    // The WSGI engine is the protocol alone: SimpleHandler and CGIHandler run it without Fastify.
    files: ['lib/wsgi/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          group: ['fastify', 'fastify-*', '@fastify/*', '../fastify/*', '../connection/*', '../server/*', '../cli/*', '../options.js', '../index.js'],
          message: 'lib/wsgi/ is the engine: it imports nothing from Fastify or from the layers above it (see test/architecture.test.ts)'
        }]
      }]
    }
  }
]
