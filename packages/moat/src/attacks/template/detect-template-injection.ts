/**
 * Template and expression injection: a template delimiter (`${…}`, `{{…}}`, `#{…}`, `*{…}`, `%{…}`,
 * `<%…%>`, `@(…)`) whose content is an expression — arithmetic, a call, an attribute walk to classes,
 * a Log4j lookup (`${jndi:`, `${env:`, nested `${::-j}` obfuscation). A bare placeholder such as
 * `{{name}}` or `${user}` in a discussion of templates is a name, not an expression, and passes.
 */
import { decodeBackslashEscapes } from '../decode/escapes.js';
import { F_AT, F_BRACE, F_BRACKET, F_HASH, F_LT, isRegexSpace } from '../features.js';
import type { Finding } from '../types.js';
import { addWork } from '../work-counter.js';
import { indexOfNear } from '../../text/near-index.js';

/** A character of every opener's anchor (ANCHORS): `#set(` and `[[` open without a brace. */
export const TEMPLATE_FEATURES = F_BRACE | F_LT | F_AT | F_HASH | F_BRACKET;

/**
 * A Log4j lookup, also behind nested ones (`${${::-j}ndi:`). A nested one's content holds no `$`: with one,
 * each `${` of `${${${…` read the next 40 characters again (4 ms for 64 KiB), and a `${` inside a
 * template's content is flagged by the opener loop anyway.
 */
const LOOKUP = /\$\{\s*(?:\$\{[^}$]{0,40}\}\s*)*(?:jndi|env|sys|lower|upper|date|ctx|main|java|base64|bundle|docker|k8s|log4j|marker|sd|spring|web|map|jvmrunargs|event|script|dns|ldap|rmi)?\s*:/i;
/**
 * The openers, tried only where one can start (see nextOpener). Each holds one of ANCHORS at its start,
 * or a `{` one character in (`${`, `#{`, `*{`, `%{`, `@{`).
 */
const OPEN = /\$\{\{?|\{\{|#\{|\*\{|%\{|@\{|<%[=\-#]?|@\(|\[\[|<#(?:assign|list|if)|\{%|#set\s*\(|\{php\}|\{(?=(?:system|exec|passthru|shell_exec|eval|include|fetch)\s*\()/y;
const ANCHORS = ['{', '<%', '<#', '@(', '[[', '#set'] as const;
/** What stands before the `{` of `${`, `#{`, `*{`, `%{`, `@{`, and after the `{` of `{{`, `{%`, `{php}` and `{system(`… (OPEN is case-sensitive). */
const OPENS_BEFORE_BRACE = '$#*%@';
const OPENS_AFTER_BRACE = '{%psefi';
/** Anchors closer than this after two that opened nothing are read by OPEN_ANYWHERE. */
const DENSE_ANCHORS = 16;
/** OPEN tried at every position from lastIndex on. */
const OPEN_ANYWHERE = new RegExp(OPEN.source, 'g');
/** What follows `<#` in a FreeMarker directive OPEN knows (`assign`, `list`, `if`). */
const DIRECTIVE_STARTS = 'ali';

/**
 * The leftmost opener at or after `from`, as a global regex over the value would find it, but tried
 * only at the anchors, found natively (`next` keeps each anchor's next position between calls): the
 * regex tried at every character was the largest part of this detector on long text.
 */
function nextOpener(s: string, from: number, next: Int32Array): RegExpExecArray | null {
  let failed = 0;
  for (;;) {
    // `next[k]`: the next anchor of kind k, valid when at or after `from`; -1 none left; -2 not known.
    let p = -1;
    for (let k = 0; k < ANCHORS.length; k++) {
      const at = next[k]!;
      if (at >= from && (p < 0 || at < p)) p = at;
    }
    for (let k = 0; k < ANCHORS.length; k++) {
      const at = next[k]!;
      if (at === -1 || at >= from) continue;
      if (p >= 0 && p - from < DENSE_ANCHORS) {
        // An anchor close by is known: only the few characters before it matter, and a search through the
        // whole value (stopping at every `<` or `#` of `<#<#…`) would cost more than the rest.
        const q = indexBetween(s, ANCHORS[k]!, from, p);
        next[k] = q < 0 ? -2 : q;
        if (q >= 0) p = q;
      } else {
        const q = (next[k] = indexOfNear(s, ANCHORS[k]!, from));
        if (q >= 0 && (p < 0 || q < p)) p = q;
      }
    }
    if (p < 0) return null;
    // Anchors close after two that opened nothing (`{={={…`, `<#<#…`): the regex reads such text faster
    // from here to its next opener than a try at each anchor.
    if (failed >= 2 && p - from < DENSE_ANCHORS) {
      OPEN_ANYWHERE.lastIndex = from;
      return OPEN_ANYWHERE.exec(s);
    }
    failed++;
    // The regex is tried only where the characters around the anchor allow an opener.
    if (p > from && s.charCodeAt(p) === 0x7b && OPENS_BEFORE_BRACE.includes(s[p - 1]!)) {
      OPEN.lastIndex = p - 1;
      const m = OPEN.exec(s);
      if (m) return m;
    }
    if (mayOpenAt(s, p)) {
      OPEN.lastIndex = p;
      const m = OPEN.exec(s);
      if (m) return m;
    }
    from = p + 1;
  }
}

/** The first `pattern` starting in `s[from, to)`, or -1. */
function indexBetween(s: string, pattern: string, from: number, to: number): number {
  const first = pattern.charCodeAt(0);
  for (let i = from; i < to; i++) if (s.charCodeAt(i) === first && s.startsWith(pattern, i)) return i;
  return -1;
}

/** Whether an opener may start at the anchor at `p`, from the character or two after it. */
function mayOpenAt(s: string, p: number): boolean {
  const c = s.charCodeAt(p);
  if (c === 0x7b) return OPENS_AFTER_BRACE.includes(s[p + 1] ?? '');
  if (c === 0x3c && s.charCodeAt(p + 1) === 0x23) return DIRECTIVE_STARTS.includes(s[p + 2] ?? '');
  return true;
}
/**
 * `request`, `session` and `file` count unless the content is a plain property path from them to members
 * that are no server internals (`{{session.title}}`, `{{file.name}}` are data lookups; `request.environ`,
 * `request.args.x`, `File.read "…"`, a call or a dunder still count).
 */
const DANGEROUS = /__class__|__globals__|__builtins__|__init__|__subclasses__|__import__|__mro__|\bconstructor\b|getclass|classloader|runtime|processbuilder|\bexec\b|\beval\b|\bsystem\b|\bpopen\b|forname|getruntime|\bconfig\b|\bself\b|\b(?:request|session|file)\b(?!\s*\.\s*(?!(?:environ|application|args|form|values|cookies|headers|files|json|data|stream|meta|server|servletcontext|class|getclass)\b)[a-z_]\w*(?:\s*\.\s*[a-z_]\w*)*\s*$)|\bapplication\b|facescontext|pagecontext|\.apply\b|\.call\b|\bprocess\b|\bT\s*\(|new\s+java|freemarker|\bos\.|subprocess|lipsum|cycler|joiner|namespace|\bprocess\.|require\s*\(|\bimport\b|\bsettings\b|\bgetenv\b|\bdebug\b|\battr\s*\(|\binclude\b|@\w+@|<%|\{\{|\$\{/i;
const EXPRESSION = /[\d'\"]\s*[*+\/%-]\s*['\"\d]|`|\w\s*\(|\)\s*\(|['"]\s*[.[]|\[\s*['"]|__\w+__|\|\s*\w+\s*\(|\?\.|^\s*\(|^\s*#\w/;
/**
 * EXPRESSION without `#name` at the start: after `{{` that opens a Mustache or Handlebars section
 * (`{{#each items}}`, `{{#if user}}`), logic-less and no more than a name; OGNL's `${#context}` keeps it.
 */
const EXPRESSION_IN_MUSTACHE = new RegExp(EXPRESSION.source.slice(0, EXPRESSION.source.lastIndexOf('|^')));
/**
 * A CSS declaration after the universal selector `*{` (`*{-webkit-tap-highlight-color:rgba(0,0,0,0)}`):
 * a property name and a colon, which no Thymeleaf `*{…}` expression (SpEL or OGNL) starts with.
 */
const CSS_DECLARATION = /^-?[a-z][a-z-]*\s*:(?!:)/i;

export function detectTemplateInjection(s: string): Finding | null {
  addWork(s.length);
  if (s.includes('${')) {
    const lookup = LOOKUP.exec(s);
    if (lookup) return { at: lookup.index, reason: 'Log4j-style ${…:} lookup' };
  }
  // `$(` (jQuery, shell substitution) is no template delimiter, so it is not an opener here. A value
  // without any anchor costs one search per anchor in the first call.
  const next = new Int32Array(ANCHORS.length).fill(-2);
  let from = 0;
  // Where the last closeOutsideLiterals() reading ended.
  let literalsTo = 0;
  for (let m = nextOpener(s, from, next); m; m = nextOpener(s, from, next)) {
    let start = m.index + m[0].length;
    // Blanks after the opener are skipped first: an expression behind 400 of them still runs. Blanks
    // hold no opener, so each is read once.
    const opened = start;
    while (start < s.length && isRegexSpace(s.charCodeAt(start))) start++;
    addWork(start - opened);
    from = start;
    // The content up to the matching close, bounded: templates rarely hold more than a line.
    const content = s.slice(start, start + 400);
    addWork(content.length);
    if (m[0] === '{php}' || (m[0] === '{' && m[0].length === 1)) return { at: m.index, reason: 'Smarty code block' };
    if (m[0].startsWith('<#') || m[0] === '{%' || m[0].startsWith('#set')) {
      if (DANGEROUS.test(content) || EXPRESSION.test(content) || /\bimport\b|\bfor\b.*\bin\b.*__/.test(content)) return { at: m.index, reason: 'template directive with an expression' };
      from = start + content.length;
      continue;
    }
    const close = m[0] === '@(' ? content.indexOf(')') : m[0].startsWith('<%') ? content.indexOf('%>') : m[0] === '[[' ? content.indexOf(']]') : m[0].endsWith('{{') ? content.indexOf('}}') : content.indexOf('}');
    const inner = close >= 0 ? content.slice(0, close) : content;
    if (inner.trim().length === 0 || (m[0] === '*{' && CSS_DECLARATION.test(inner))) continue;
    const expression = m[0] === '{{' ? EXPRESSION_IN_MUSTACHE : EXPRESSION;
    if (isExpression(inner, expression)) return { at: m.index, reason: `expression inside ${m[0]}…` };
    // A close inside a string literal (`{{"}}"+x.constructor(…)()}}`) does not end the expression for the
    // lexers of Jinja, Nunjucks, Handlebars, or JavaScript's own `${}`: the content up to the close outside
    // literals is read too.
    // An opener inside the span such a reading already covered is inside that expression for those lexers,
    // and not read this way again: each character is read so once.
    if (close >= 0 && start >= literalsTo && m[0].endsWith('{') && (inner.includes('"') || inner.includes("'"))) {
      const outer = closeOutsideLiterals(content, m[0].endsWith('{{'));
      addWork(outer >= 0 ? outer : content.length);
      literalsTo = start + (outer >= 0 ? outer : content.length);
      if (outer > close && isExpression(content.slice(0, outer), expression)) return { at: m.index, reason: `expression inside ${m[0]}…` };
    }
    // Resume after this template's content: each character is examined by one opener, so the work is linear.
    from = start + (close >= 0 ? close : content.length);
  }
  return null;
}

/**
 * Whether a template's content is an expression, also once its JavaScript comments are removed (a
 * comment between a callee and its `(` still calls it) and its string escapes resolved as JavaScript
 * does (`'\160rocess'`, `'pr\ocess'`, `'\x70rocess'` are `process`).
 */
function isExpression(inner: string, expression: RegExp): boolean {
  if (DANGEROUS.test(inner) || expression.test(inner)) return true;
  if (inner.includes('/*')) {
    const bare = withoutComments(inner);
    if (bare !== inner && (DANGEROUS.test(bare) || expression.test(bare))) return true;
  }
  if (inner.includes('\\')) {
    const plain = decodeBackslashEscapes(inner, true);
    if (plain !== inner && DANGEROUS.test(plain)) return true;
  }
  return false;
}

/** `s` with each closed block comment replaced by a space (one pass). */
function withoutComments(s: string): string {
  let out = '';
  let last = 0;
  for (let i = s.indexOf('/*'); i >= 0; i = s.indexOf('/*', last)) {
    const end = s.indexOf('*/', i + 2);
    if (end < 0) break;
    out += s.slice(last, i) + ' ';
    last = end + 2;
  }
  return last === 0 ? s : out + s.slice(last);
}

/**
 * Where `close` first stands outside a string literal in `content`, or -1. A quote opens a literal only
 * where an expression may start one (after the start, blanks, an operator or a bracket), so an apostrophe
 * in a word (`{{ user's }}`) opens nothing. One pass.
 */
function closeOutsideLiterals(content: string, double: boolean): number {
  let prev = 0x28; // as after `(`: the content's start
  for (let i = 0; i < content.length; i++) {
    const c = content.charCodeAt(i);
    if ((c === 0x22 || c === 0x27) && prev < 0x80 && LITERAL_BEFORE[prev] === 1) {
      let j = i + 1;
      while (j < content.length && content.charCodeAt(j) !== c) j += content.charCodeAt(j) === 0x5c ? 2 : 1;
      if (j >= content.length) return -1;
      i = j;
      prev = c;
      continue;
    }
    if (c === 0x7d && (!double || content.charCodeAt(i + 1) === 0x7d)) return i;
    if (!isRegexSpace(c)) prev = c;
  }
  return -1;
}
/** By ASCII code: 1 where a quote after it opens a string literal (an operator, a bracket, a separator). */
const LITERAL_BEFORE = new Uint8Array(128);
for (const ch of '([{,+-*/%=!&|?:~<>;') LITERAL_BEFORE[ch.charCodeAt(0)] = 1;
