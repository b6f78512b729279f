/** CESQL syntax tree, as produced by parser.ts and consumed by compiler.ts. */

export type ComparisonOp = '=' | '!=' | '<>' | '<' | '<=' | '>' | '>='
export type ArithmeticOp = '+' | '-' | '*' | '/' | '%'
export type LogicOp = 'AND' | 'OR' | 'XOR'

export type Node =
  | { readonly type: 'literal', readonly value: boolean | number | string }
  | { readonly type: 'identifier', readonly name: string }
  | { readonly type: 'exists', readonly name: string }
  | { readonly type: 'not', readonly operand: Node }
  | { readonly type: 'negate', readonly operand: Node }
  | { readonly type: 'like', readonly operand: Node, readonly pattern: string, readonly negated: boolean }
  | { readonly type: 'in', readonly operand: Node, readonly set: readonly Node[], readonly negated: boolean }
  | { readonly type: 'call', readonly name: string, readonly args: readonly Node[] }
  /**
   * A run of same-level left-associative binary operators, flattened so that long chains
   * (`1 + 2 + ... + n`) compile and evaluate without deep recursion: ops[i] joins operands[i] and
   * operands[i + 1], evaluated as (((o0 op0 o1) op1 o2) ...).
   */
  | { readonly type: 'arithmetic', readonly operands: readonly Node[], readonly ops: readonly ArithmeticOp[] }
  | { readonly type: 'comparison', readonly operands: readonly Node[], readonly ops: readonly ComparisonOp[] }
  /**
   * AND/OR/XOR share one precedence level and are right-associative (see parser.ts):
   * o0 op0 (o1 op1 (o2 ...)). Flattened for the same reason as above.
   */
  | { readonly type: 'logic', readonly operands: readonly Node[], readonly ops: readonly LogicOp[] }
