/** HTML data the XSS detector checks against. Data, not logic: extend the lists, not the code. */

/** Named character references attackers use to hide syntax, with their code points. */
export const HTML_NAMED_ENTITIES: Record<string, number> = {
  lt: 0x3c, gt: 0x3e, amp: 0x26, quot: 0x22, apos: 0x27, colon: 0x3a, tab: 0x09, newline: 0x0a,
  sol: 0x2f, bsol: 0x5c, lpar: 0x28, rpar: 0x29, semi: 0x3b, equals: 0x3d, nbsp: 0xa0, period: 0x2e,
  comma: 0x2c, excl: 0x21, num: 0x23, dollar: 0x24, percnt: 0x25, lsqb: 0x5b, rsqb: 0x5d,
  lbrack: 0x5b, rbrack: 0x5d, lcub: 0x7b, rcub: 0x7d, lbrace: 0x7b, rbrace: 0x7d, grave: 0x60,
  quest: 0x3f, commat: 0x40, ast: 0x2a, plus: 0x2b, vert: 0x7c, verbar: 0x7c, hyphen: 0x2d,
  Tab: 0x09, NewLine: 0x0a,
};

/** Elements whose mere opening runs or loads active content. */
export const DANGEROUS_TAGS: ReadonlySet<string> = new Set([
  'script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'meta', 'portal',
  'xss', 'import', 'xml', 'template', 'noscript', 'isindex', 'layer', 'ilayer', 'bgsound', 'handler',
  'listener', 'set', 'animate', 'animatetransform', 'animatemotion', 'foreignobject',
]);

/** Attributes whose value is a URL a browser will follow or load. */
export const URL_ATTRIBUTES: ReadonlySet<string> = new Set([
  'href', 'src', 'action', 'formaction', 'data', 'xlink:href', 'background', 'lowsrc', 'dynsrc',
  'poster', 'codebase', 'cite', 'srcdoc', 'values', 'to', 'from', 'by', 'attributename', 'ping',
]);

/** URL schemes that run script or render attacker HTML in the page's origin. */
export const SCRIPT_SCHEMES = ['javascript:', 'vbscript:', 'livescript:', 'mocha:', 'data:text/html', 'data:image/svg', 'data:application/xhtml', 'data:text/xml', 'data:application/x-shockwave'] as const;

/**
 * JavaScript keywords that may stand before another word in valid code (`void alert(1)`, `new Image`,
 * `let x`), as written (keywords are case-sensitive): two other words side by side do not parse, unless
 * the second is an operator (`x in y`, `x instanceof y`).
 */
export const JS_PREFIX_KEYWORDS: ReadonlySet<string> = new Set(
  ('new void typeof delete await yield return throw var let const function async class if else do while for ' +
    'with try catch finally switch case default import export debugger break continue static get set')
    .split(' '),
);

/** Event handler attributes browsers run (on + event). The detector also accepts any on* attribute inside a tag. */
export const EVENT_HANDLERS: ReadonlySet<string> = new Set(
  (
    'abort activate afterprint afterscriptexecute animationcancel animationend animationiteration animationstart auxclick ' +
    'beforeactivate beforecopy beforecut beforedeactivate beforeinput beforepaste beforeprint beforescriptexecute ' +
    'beforetoggle beforeunload begin blur bounce canplay canplaythrough change click close contextmenu copy cuechange cut ' +
    'dblclick deactivate drag dragend dragenter dragleave dragover dragstart drop durationchange emptied end ended error ' +
    'finish focus focusin focusout formdata fullscreenchange hashchange input invalid keydown keypress keyup load ' +
    'loadeddata loadedmetadata loadend loadstart message mousedown mouseenter mouseleave mousemove mouseout mouseover ' +
    'mouseup mousewheel offline online pagehide pageshow paste pause play playing pointercancel pointerdown pointerenter ' +
    'pointerleave pointermove pointerout pointerover pointerrawupdate pointerup popstate progress ratechange repeat reset ' +
    'resize scroll scrollend search seeked seeking select selectionchange selectstart show start stalled storage submit ' +
    'suspend timeupdate toggle touchend touchmove touchstart transitioncancel transitionend transitionrun ' +
    'transitionstart unload volumechange waiting webkitanimationend webkitanimationiteration webkitanimationstart ' +
    'webkittransitionend wheel content readystatechange filterchange losecapture propertychange'
  )
    .split(' ')
    .map((e) => 'on' + e),
);
