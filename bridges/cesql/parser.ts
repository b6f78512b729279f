/**
 * CESQL parser: tokens -> syntax tree, by precedence climbing.
 *
 * Precedence follows the spec's ANTLR grammar (cesql/CESQLParser.g4, the `expression` rule, which
 * sdk-go also uses) and the order in [CESQL 3.6], tightest first:
 *   1. function invocation, EXISTS, literals, identifiers, ( sub-expression )
 *   2. unary NOT and unary `-` (prefix; their operand is another unary or primary, so
 *      `NOT a = b` is `(NOT a) = b` and `-a * b` is `(-a) * b`)
 *   3. postfix `[NOT] LIKE 'pattern'` and `[NOT] IN (set)`, applied left to right
 *   4. `*` `/` `%`       (left-associative)
 *   5. `+` `-`           (left-associative)
 *   6. `=` `!=` `<>` `<` `<=` `>` `>=` (left-associative)
 *   7. AND, OR, XOR: ONE level, RIGHT-associative. [CESQL 3.6] lists them on one level; the
 *      grammar marks the alternative `<assoc=right> expression (AND | OR | XOR) expression`, so
 *      `a AND b OR c` is `a AND (b OR c)` and `a OR b AND c` is `a OR (b AND c)`. No TCK case can
 *      tell this from left-to-right (they all parenthesise); we follow the grammar and sdk-go.
 *      Write parentheses when mixing them.
 *
 * Nesting is capped at MAX_DEPTH (parentheses, function arguments, IN sets, unary operators and
 * postfix operators each add a level) so that hostile input gets a clean parse error instead of a
 * stack overflow in the parser, the compiler or the evaluator. Long flat chains (`a OR b OR ...`)
 * are not nesting: they are parsed, compiled and evaluated with loops.
 */
import type { ArithmeticOp, ComparisonOp, LogicOp, Node } from './ast.js'
import { ParseFailure, parseError } from './errors.js'
import { type Token, type TokenKind, tokenize } from './lexer.js'

/** Deepest nesting accepted; real filters stay far below it. */
export const MAX_DEPTH = 256

const IDENTIFIER_RE = /^[A-Za-z0-9]+$/
const FUNCTION_RE = /^[A-Za-z][A-Za-z_]*$/

export function parse (src: string): Node {
  return new Parser(src).parseRoot()
}

class Parser {
  private readonly tokens: Token[]
  private pos = 0
  private depth = 0

  constructor (private readonly src: string) {
    this.tokens = tokenize(src)
  }

  parseRoot (): Node {
    if (this.peek().kind === 'eof') this.fail(this.peek(), 'empty expression')
    const node = this.parseLogic()
    const t = this.peek()
    if (t.kind !== 'eof') this.fail(t, `unexpected ${describe(t)} after a complete expression`)
    return node
  }

  private peek (): Token {
    return this.tokens[this.pos]!
  }

  private next (): Token {
    const t = this.tokens[this.pos]!
    if (t.kind !== 'eof') this.pos++
    return t
  }

  private expect (kind: TokenKind, what: string): Token {
    const t = this.peek()
    if (t.kind !== kind) this.fail(t, `expected ${what} but found ${describe(t)}`)
    return this.next()
  }

  private fail (t: Token, message: string): never {
    throw new ParseFailure(parseError(this.src, t.start, message))
  }

  private enter (t: Token): void {
    if (++this.depth > MAX_DEPTH) this.fail(t, `expression nested more than ${MAX_DEPTH} levels deep`)
  }

  private leave (): void {
    this.depth--
  }

  private parseLogic (): Node {
    const first = this.parseComparison()
    if (!isLogicOp(this.peek().kind)) return first
    const operands: Node[] = [first]
    const ops: LogicOp[] = []
    while (isLogicOp(this.peek().kind)) {
      ops.push(this.next().kind as LogicOp)
      operands.push(this.parseComparison())
    }
    return { type: 'logic', operands, ops }
  }

  private parseComparison (): Node {
    const first = this.parseAdditive()
    if (!isComparisonOp(this.peek().kind)) return first
    const operands: Node[] = [first]
    const ops: ComparisonOp[] = []
    while (isComparisonOp(this.peek().kind)) {
      ops.push(this.next().kind as ComparisonOp)
      operands.push(this.parseAdditive())
    }
    return { type: 'comparison', operands, ops }
  }

  private parseAdditive (): Node {
    return this.parseArithmetic(() => this.parseMultiplicative(), isAdditiveOp)
  }

  private parseMultiplicative (): Node {
    return this.parseArithmetic(() => this.parsePostfix(), isMultiplicativeOp)
  }

  private parseArithmetic (operand: () => Node, isOp: (k: TokenKind) => boolean): Node {
    const first = operand()
    if (!isOp(this.peek().kind)) return first
    const operands: Node[] = [first]
    const ops: ArithmeticOp[] = []
    while (isOp(this.peek().kind)) {
      ops.push(this.next().kind as ArithmeticOp)
      operands.push(operand())
    }
    return { type: 'arithmetic', operands, ops }
  }

  private parsePostfix (): Node {
    let node = this.parseUnary()
    let added = 0
    try {
      for (;;) {
        const t = this.peek()
        let negated = false
        let keyword = t
        if (t.kind === 'NOT') {
          const after = this.tokens[this.pos + 1]!
          if (after.kind !== 'LIKE' && after.kind !== 'IN') this.fail(after, `expected LIKE or IN after NOT but found ${describe(after)}`)
          negated = true
          keyword = after
        } else if (t.kind !== 'LIKE' && t.kind !== 'IN') {
          return node
        }
        this.enter(keyword)
        added++
        if (negated) this.next()
        this.next()
        if (keyword.kind === 'LIKE') {
          const p = this.peek()
          // [CESQL 3.4.3] the pattern MUST be a string literal, otherwise a parse error.
          if (p.kind !== 'string') this.fail(p, `the LIKE pattern must be a string literal, found ${describe(p)}`)
          this.next()
          node = { type: 'like', operand: node, pattern: p.value as string, negated }
        } else {
          node = { type: 'in', operand: node, set: this.parseSet(), negated }
        }
      }
    } finally {
      this.depth -= added
    }
  }

  private parseSet (): Node[] {
    const open = this.expect('(', "'(' to start the IN set")
    // [CESQLParser.g4] setExpression: empty sets are not allowed.
    if (this.peek().kind === ')') this.fail(this.peek(), 'an IN set needs at least one element')
    this.enter(open)
    const items: Node[] = [this.parseLogic()]
    while (this.peek().kind === ',') {
      this.next()
      items.push(this.parseLogic())
    }
    this.leave()
    this.expect(')', "',' or ')' in the IN set")
    return items
  }

  private parseUnary (): Node {
    const t = this.peek()
    if (t.kind === 'NOT' || t.kind === '-') {
      this.next()
      this.enter(t)
      const operand = this.parseUnary()
      this.leave()
      return t.kind === 'NOT' ? { type: 'not', operand } : { type: 'negate', operand }
    }
    return this.parsePrimary()
  }

  private parsePrimary (): Node {
    const t = this.next()
    switch (t.kind) {
      case 'int':
      case 'string':
        return { type: 'literal', value: t.value! }
      case 'true':
        return { type: 'literal', value: true }
      case 'false':
        return { type: 'literal', value: false }
      case 'EXISTS': {
        const id = this.peek()
        if (id.kind !== 'word') this.fail(id, `expected an attribute name after EXISTS but found ${describe(id)}`)
        this.next()
        return { type: 'exists', name: this.identifierName(id) }
      }
      case 'word':
        if (this.peek().kind === '(') return this.parseCall(t)
        return { type: 'identifier', name: this.identifierName(t) }
      case '(': {
        this.enter(t)
        const inner = this.parseLogic()
        this.leave()
        this.expect(')', `')' to close the '(' at offset ${t.start}`)
        return inner
      }
      default:
        return this.fail(t, `expected an expression but found ${describe(t)}`)
    }
  }

  private parseCall (name: Token): Node {
    // [CESQL 2.4] function-identifier ::= char ( "_" | char )*, matched case-insensitively.
    if (!FUNCTION_RE.test(name.text)) this.fail(name, `invalid function name ${JSON.stringify(name.text)}`)
    const open = this.next()
    this.enter(open)
    const args: Node[] = []
    if (this.peek().kind !== ')') {
      args.push(this.parseLogic())
      while (this.peek().kind === ',') {
        this.next()
        args.push(this.parseLogic())
      }
    }
    this.leave()
    this.expect(')', `',' or ')' in the arguments of ${name.text.toUpperCase()}`)
    return { type: 'call', name: name.text.toUpperCase(), args }
  }

  private identifierName (t: Token): string {
    // [CESQL 2.2] value-identifier ::= ( lowercase-char | digit )+. Upper case is accepted and
    // lowercased, as the ANTLR grammar and sdk-go do (TCK: `EXISTS SOURCE` is true).
    if (!IDENTIFIER_RE.test(t.text)) this.fail(t, `invalid attribute name ${JSON.stringify(t.text)}: only letters and digits are allowed`)
    return t.text.toLowerCase()
  }
}

function isLogicOp (k: TokenKind): boolean {
  return k === 'AND' || k === 'OR' || k === 'XOR'
}

function isComparisonOp (k: TokenKind): boolean {
  return k === '=' || k === '!=' || k === '<>' || k === '<' || k === '<=' || k === '>' || k === '>='
}

function isAdditiveOp (k: TokenKind): boolean {
  return k === '+' || k === '-'
}

function isMultiplicativeOp (k: TokenKind): boolean {
  return k === '*' || k === '/' || k === '%'
}

function describe (t: Token): string {
  if (t.kind === 'eof') return 'the end of the expression'
  const text = t.text.length > 32 ? t.text.slice(0, 29) + '...' : t.text
  return JSON.stringify(text)
}
