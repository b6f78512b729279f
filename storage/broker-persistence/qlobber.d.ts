/** qlobber ships no types: its two modules that matching.ts imports, typed there. */
declare module 'qlobber' {
  const qlobber: { QlobberTrue: new (options: object) => unknown }
  export default qlobber
}

declare module 'qlobber/aedes/qlobber-sub.js' {
  const QlobberSub: new (options: object) => unknown
  export default QlobberSub
}
