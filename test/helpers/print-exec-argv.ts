/** Prints the node flags this process was started with (test/unit/runtime.test.ts). */
process.stdout.write(JSON.stringify(process.execArgv))
