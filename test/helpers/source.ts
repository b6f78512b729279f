/**
 * Reads the project's own TypeScript source (not dist/) with the TypeScript parser, for tests
 * that hold the code to its layering and its error table.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { repoRoot } from './paths.js'

export interface SourceFile {
  /** Path from the checkout, with forward slashes: `gateway/bridge-set.ts`. */
  path: string
  text: string
  ast: ts.SourceFile
}

export interface Found {
  text: string
  line: number
}

/** Every .ts file under the given top folders of the checkout. */
export function sourceFiles (folders: readonly string[]): SourceFile[] {
  const out: SourceFile[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const text = readFileSync(full, 'utf8')
        const path = relative(repoRoot, full).split('\\').join('/')
        out.push({ path, text, ast: ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true) })
      }
    }
  }
  for (const folder of folders) walk(join(repoRoot, folder))
  return out.sort((a, b) => a.path.localeCompare(b.path))
}

function lineOf (file: SourceFile, node: ts.Node): number {
  return file.ast.getLineAndCharacterOfPosition(node.getStart(file.ast)).line + 1
}

function visit (file: SourceFile, fn: (node: ts.Node) => void): void {
  const walk = (node: ts.Node): void => {
    fn(node)
    ts.forEachChild(node, walk)
  }
  walk(file.ast)
}

/** The module specifiers a file imports or re-exports: static, `import()` and `import('x')` types. */
export function importsOf (file: SourceFile): Found[] {
  const found: Found[] = []
  visit(file, node => {
    let spec: ts.Node | undefined
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined) spec = node.moduleSpecifier
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) spec = node.arguments[0]
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) spec = node.argument.literal
    if (spec !== undefined && ts.isStringLiteralLike(spec)) found.push({ text: spec.text, line: lineOf(file, spec) })
  })
  return found
}

/** The string literals of a file (plain, template without substitutions, and literal types). */
export function stringLiterals (file: SourceFile): Found[] {
  const found: Found[] = []
  visit(file, node => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) found.push({ text: node.text, line: lineOf(file, node) })
  })
  return found
}

/** The calls `name('first', …)` in a file whose first argument is a string literal: that literal. */
export function callsWithLiteral (file: SourceFile, name: string): Found[] {
  const found: Found[] = []
  visit(file, node => {
    if (!ts.isCallExpression(node)) return
    const callee = node.expression
    if (!ts.isIdentifier(callee) || callee.text !== name) return
    const first = node.arguments[0]
    found.push({ text: first !== undefined && ts.isStringLiteralLike(first) ? first.text : '', line: lineOf(file, node) })
  })
  return found
}
