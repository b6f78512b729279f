export { ConfigSchema, type Config, type ListenerConfig } from './schema.js'
export { parseConfig, loadConfig, defaultConfig, ConfigError, formatPath, type LoadedConfig, type ConfigIssue } from './load.js'
export { redactConfig, printConfig, REDACTED } from './redact.js'
export { parseSize, parseDuration } from './units.js'
