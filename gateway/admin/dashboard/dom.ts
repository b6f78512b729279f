/** Building the page with DOM calls only: text goes in as text, never parsed as HTML. */

type Attrs = Record<string, string | number | boolean | undefined>

export function h<K extends keyof HTMLElementTagNameMap> (tag: K, attrs: Attrs = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue
    el.setAttribute(name, value === true ? '' : String(value))
  }
  el.append(...children)
  return el
}

export function byId<T extends HTMLElement> (id: string, type: new () => T): T {
  const el = document.getElementById(id)
  if (!(el instanceof type)) throw new TypeError(`the page has no ${type.name} #${id}`)
  return el
}

/** Sets an element's text only when it changed, so assistive technology and selection are left alone. */
export function setText (el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text
}

/** A definition list kept up to date in place: one <dt>/<dd> pair per key, created once. */
export class Facts {
  readonly el: HTMLDListElement
  private readonly values = new Map<string, HTMLElement>()

  constructor (className = 'facts') {
    this.el = h('dl', { class: className })
  }

  /** The <dd> for `label`, made on first use. */
  cell (label: string): HTMLElement {
    let dd = this.values.get(label)
    if (dd === undefined) {
      dd = h('dd')
      this.el.append(h('div', {}, h('dt', {}, label), dd))
      this.values.set(label, dd)
    }
    return dd
  }

  set (label: string, text: string): void {
    setText(this.cell(label), text)
  }

  /** Shows or hides a pair (hidden ones keep their place). */
  show (label: string, visible: boolean): void {
    const row = this.values.get(label)?.parentElement
    if (row !== undefined && row !== null) row.hidden = !visible
  }
}
