/** Subscriptions API filter dialects compiled into event predicates. Pure code. */
export {
  compileFilters, compileFilter, FILTER_DIALECTS,
  type EventPredicate, type SqlCompiler, type CompileFiltersOptions, type FilterDialect
} from './compile.js'
