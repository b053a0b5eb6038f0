// The browser globals that the dashboard tests' page.evaluate() callbacks touch. Those callbacks are sent
// to Chromium and run there, never in Node, so a test file declares the globals it uses with these types:
//   declare const document: PageDocument;
//   declare const window: PageWindow;
// (`declare` emits nothing.) This keeps the DOM library out of the type-check of everything else: the hub
// runs on Node, and `document` in its code must stay a type error. Add a member when a test needs one.

export interface PageElement {
  readonly tagName: string;
  readonly className: string;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { readonly left: number; readonly right: number; readonly top: number; readonly bottom: number };
  closest(selectors: string): PageElement | null;
  querySelector<E extends PageElement = PageElement>(selectors: string): E | null;
  querySelectorAll(selectors: string): ArrayLike<PageElement>;
  append(...nodes: PageElement[]): void;
}

export interface PageForm extends PageElement {
  method: string;
  action: string;
  submit(): void;
}

export interface PageInput extends PageElement {
  type: string;
  name: string;
  value: string;
}

export interface PageCanvas extends PageElement {
  readonly width: number;
  readonly height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, width: number, height: number): { readonly data: Uint8ClampedArray } } | null;
}

export interface PageDocument {
  readonly body: PageElement;
  readonly documentElement: PageElement & { readonly scrollWidth: number };
  createElement(tag: 'form'): PageForm;
  createElement(tag: 'input'): PageInput;
  getElementById(id: string): PageElement | null;
  querySelector<E extends PageElement = PageElement>(selectors: string): E | null;
}

export interface PageWindow {
  readonly innerWidth: number;
}

export interface PageMutationObserver {
  observe(target: PageElement, options: { childList?: boolean; subtree?: boolean; attributes?: boolean }): void;
}

export type PageMutationObserverConstructor = new (callback: () => void) => PageMutationObserver;
