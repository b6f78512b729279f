/**
 * Fastify compiles every route's request schema when a server starts: Ajv and its formats are
 * loaded, the JSON Schema meta-schema is compiled, then a validator per route. For the admin API
 * that was about a fifth of the gateway's time to ready on one core (0.2 s of 1 s). With these compilers each route's
 * validator is built on the route's first request instead, by the compiler fastify would use
 * (@fastify/ajv-compiler, with fastify's options), so a start pays for none of it and a request
 * gets the same answer.
 */
import { createRequire } from 'node:module'
import type { FastifyServerOptions } from 'fastify'

const require = createRequire(import.meta.url)

type Compilers = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>
type BuildValidator = NonNullable<Compilers['buildValidator']>
type BuildSerializer = NonNullable<Compilers['buildSerializer']>
type Validate = ((data: unknown) => unknown) & { errors?: unknown }

const buildValidator = ((externalSchemas, options) => {
  let compile: ReturnType<BuildValidator> | undefined
  return (route: Parameters<ReturnType<BuildValidator>>[0]) => {
    let validate: Validate | undefined
    const lazy: Validate = data => {
      compile ??= (require('@fastify/ajv-compiler') as () => BuildValidator)()(externalSchemas, options)
      validate ??= compile(route) as Validate
      const valid = validate(data)
      // fastify reads a failed validation's errors from the function it was given
      lazy.errors = validate.errors
      return valid
    }
    return lazy
  }
}) as BuildValidator

const buildSerializer = ((externalSchemas, options) => {
  let compile: ReturnType<BuildSerializer> | undefined
  return (route: Parameters<ReturnType<BuildSerializer>>[0]) => {
    let serialize: ((data: unknown) => string) | undefined
    return (data: unknown) => {
      compile ??= (require('@fastify/fast-json-stringify-compiler') as () => BuildSerializer)()(externalSchemas, options)
      serialize ??= compile(route)
      return serialize(data)
    }
  }
}) as BuildSerializer

/** fastify's `schemaController` option: validators and serializers built on first use. */
export const lazySchemaController: FastifyServerOptions['schemaController'] = { compilersFactory: { buildValidator, buildSerializer } }
