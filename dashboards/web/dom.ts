/**
 * The browser APIs the UI uses, typed structurally here. The project's tsconfig is for Node and has no DOM
 * lib, and adding it is not local to these files: `/// <reference lib="dom" />` retypes fetch and friends for
 * the whole program and breaks Node code that posts Buffers. So the UI states the little it needs.
 */
export interface DomEvent {
  preventDefault(): void;
  metaKey?: boolean;
  ctrlKey?: boolean;
  shiftKey?: boolean;
  button?: number;
  /** MessageEvent's payload (EventSource). */
  data?: string;
}

export interface DomNode {
  textContent: string | null;
  remove(): void;
}

export interface DomElement extends DomNode {
  setAttribute(name: string, value: string): void;
  removeAttribute(name: string): void;
  append(...nodes: (DomNode | string)[]): void;
  prepend(...nodes: (DomNode | string)[]): void;
  before(...nodes: (DomNode | string)[]): void;
  replaceChildren(...nodes: (DomNode | string)[]): void;
  querySelector<T extends DomElement = DomElement>(selector: string): T | null;
  querySelectorAll<T extends DomElement = DomElement>(selector: string): Iterable<T>;
  addEventListener(type: string, listener: (e: DomEvent) => void): void;
  focus(): void;
  readonly dataset: Record<string, string | undefined>;
  readonly classList: { add(name: string): void; toggle(name: string, force?: boolean): boolean };
  readonly children: { readonly length: number };
  readonly firstElementChild: DomElement | null;
  readonly lastElementChild: DomElement | null;
  readonly clientWidth: number;
}

/** input, select, button */
export interface FormControl extends DomElement {
  name: string;
  value: string;
}

export interface EventSourceLike {
  readonly readyState: number;
  close(): void;
  addEventListener(type: string, listener: (e: DomEvent) => void): void;
}

interface Browser {
  document: {
    title: string;
    createElement(tag: string): DomElement;
    createDocumentFragment(): DomElement;
    getElementById(id: string): DomElement | null;
  };
  location: { readonly search: string };
  history: {
    pushState(state: unknown, unused: string, url: string): void;
    replaceState(state: unknown, unused: string, url: string): void;
  };
  addEventListener(type: string, listener: () => void): void;
  EventSource: { new (url: string): EventSourceLike; readonly CLOSED: number };
}

/** The window, as far as the UI uses it. */
export const browser = globalThis as unknown as Browser;

/** An element with attributes and optional text. */
export function el<T extends DomElement = DomElement>(tag: string, attrs: Record<string, string> = {}, text?: string): T {
  const e = browser.document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e as T;
}
