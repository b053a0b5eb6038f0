/**
 * Template and expression injection: a template delimiter (`${…}`, `{{…}}`, `#{…}`, `*{…}`, `%{…}`,
 * `<%…%>`, `@(…)`) whose content is an expression — arithmetic, a call, an attribute walk to classes,
 * a Log4j lookup (`${jndi:`, `${env:`, nested `${::-j}` obfuscation). A bare placeholder such as
 * `{{name}}` or `${user}` in a discussion of templates is a name, not an expression, and passes.
 */
import { F_AT, F_BRACE, F_LT } from '../features.js';
import type { Finding } from '../types.js';
import { addWork } from '../work-counter.js';

export const TEMPLATE_FEATURES = F_BRACE | F_LT | F_AT;

const LOOKUP = /\$\{\s*(?:\$\{[^}]{0,40}\}\s*)*(?:jndi|env|sys|lower|upper|date|ctx|main|java|base64|bundle|docker|k8s|log4j|marker|sd|spring|web|map|jvmrunargs|event|script|dns|ldap|rmi)?\s*:/i;
const OPEN = /\$\{\{?|\{\{|#\{|\*\{|%\{|@\{|<%[=\-#]?|@\(|\[\[|\$\(|<#(?:assign|list|if)|\{%|#set\s*\(|\{php\}|\{(?=(?:system|exec|passthru|shell_exec|eval|include|fetch)\s*\()/g;
const DANGEROUS = /__class__|__globals__|__builtins__|__init__|__subclasses__|__import__|__mro__|\bconstructor\b|getclass|classloader|runtime|processbuilder|\bexec\b|\beval\b|\bsystem\b|\bpopen\b|forname|getruntime|\bconfig\b|\bself\b|\brequest\b|\bapplication\b|\bsession\b|facescontext|pagecontext|\.apply\b|\.call\b|\bprocess\b|\bT\s*\(|new\s+java|freemarker|\bos\.|subprocess|lipsum|cycler|joiner|namespace|\bprocess\.|require\s*\(|\bimport\b|\bfile\b|\bsettings\b|\bgetenv\b|\bdebug\b|\battr\s*\(|\binclude\b|@\w+@|<%|\{\{|\$\{/i;
const EXPRESSION = /[\d'\"]\s*[*+\/%-]\s*['\"\d]|`|\w\s*\(|\)\s*\(|['"]\s*[.[]|\[\s*['"]|__\w+__|\|\s*\w+\s*\(|\?\.|^\s*\(|^\s*#\w/;

export function detectTemplateInjection(s: string): Finding | null {
  addWork(s.length);
  // Native substring checks first: the opener regex below scans far slower than includes().
  if (!s.includes('{') && !s.includes('<%') && !s.includes('<#') && !s.includes('@(') && !s.includes('[[') && !s.includes('#set')) return null;
  if (s.includes('${')) {
    const lookup = LOOKUP.exec(s);
    if (lookup) return { at: lookup.index, reason: 'Log4j-style ${…:} lookup' };
  }
  OPEN.lastIndex = 0;
  for (let m = OPEN.exec(s); m; m = OPEN.exec(s)) {
    if (m[0] === '$(') continue; // jQuery and shell substitution: not a template delimiter
    const start = m.index + m[0].length;
    // The content up to the matching close, bounded: templates rarely hold more than a line.
    const content = s.slice(start, start + 400);
    addWork(content.length);
    if (m[0] === '{php}' || (m[0] === '{' && m[0].length === 1)) return { at: m.index, reason: 'Smarty code block' };
    if (m[0].startsWith('<#') || m[0] === '{%' || m[0].startsWith('#set')) {
      if (DANGEROUS.test(content) || EXPRESSION.test(content) || /\bimport\b|\bfor\b.*\bin\b.*__/.test(content)) return { at: m.index, reason: 'template directive with an expression' };
      OPEN.lastIndex = Math.max(OPEN.lastIndex, start + content.length);
      continue;
    }
    const close = m[0] === '@(' ? content.indexOf(')') : m[0].startsWith('<%') ? content.indexOf('%>') : m[0] === '[[' ? content.indexOf(']]') : m[0].endsWith('{{') ? content.indexOf('}}') : content.indexOf('}');
    const inner = close >= 0 ? content.slice(0, close) : content;
    if (inner.trim().length === 0) continue;
    if (DANGEROUS.test(inner) || EXPRESSION.test(inner)) return { at: m.index, reason: `expression inside ${m[0]}…` };
    // Resume after this template's content: each character is examined by one opener, so the work is linear.
    OPEN.lastIndex = Math.max(OPEN.lastIndex, start + (close >= 0 ? close : content.length));
  }
  return null;
}
