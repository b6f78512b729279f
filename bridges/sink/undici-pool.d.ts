/** undici's pool module, imported on its own (http-sink.ts): the class its index exports as Pool. */
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici'
  const pool: typeof Pool
  export default pool
}
