/**
 * The user agent as a bot claim is read from: lower case, and for the rare value with non-ASCII
 * characters, the disguises a spoofer could use to keep "Googlebot" visible to people and loose
 * matchers while slipping past an exact one — zero-width and other invisible characters, accents,
 * full-width letters, Cyrillic and Greek look-alikes. Reading the claim generously is safe: a claim only
 * ever leads to a block, or to an allow after the IP proves it.
 */
/**
 * Lower-case letters that look like a Latin one (also upper-case ones, once lower-cased): Cyrillic, Greek,
 * the dotless i, Latin small capitals (no case of their own, and NFKC leaves them), Cherokee's G.
 */
const LOOK_ALIKES: Readonly<Record<string, string>> = {
  'а': 'a', 'в': 'b', 'е': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c', 'т': 't', 'у': 'y', 'х': 'x',
  'і': 'i', 'ј': 'j', 'ѕ': 's', 'ԁ': 'd', 'ԍ': 'g', 'ɡ': 'g', 'ο': 'o', 'α': 'a', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'τ': 't', 'υ': 'u', 'ρ': 'p',
  'ı': 'i', 'ᴀ': 'a', 'ʙ': 'b', 'ᴄ': 'c', 'ᴅ': 'd', 'ᴇ': 'e', 'ɢ': 'g', 'ʜ': 'h', 'ɪ': 'i', 'ᴊ': 'j', 'ᴋ': 'k', 'ʟ': 'l', 'ᴍ': 'm',
  'ɴ': 'n', 'ᴏ': 'o', 'ᴘ': 'p', 'ʀ': 'r', 'ꜱ': 's', 'ᴛ': 't', 'ᴜ': 'u', 'ᴠ': 'v', 'ᴡ': 'w', 'ʏ': 'y', 'ᴢ': 'z', 'ꮐ': 'g',
};
const INVISIBLE = /[\p{Cf}\p{Mn}\p{Cc}]/gu;
const LOOK_ALIKE = new RegExp(`[${Object.keys(LOOK_ALIKES).join('')}]`, 'gu');
const UTF8 = new TextDecoder('utf-8', { fatal: true });
/**
 * Characters of an unusual value that are unfolded (the rest is only lower-cased, so a plain token
 * anywhere still counts). Folding costs 0.05-0.4 us a character and NFKD can expand one 18-fold: a
 * 16 KB user agent of U+FDFA took 7 ms a request, never remembered (too long for the memo). Crawlers'
 * user agents are a few hundred characters; a disguise past this point is one no loose matcher reads either.
 */
export const FOLDED_CHARACTERS = 256;

export function claimText(userAgent: string): string {
  // One pass decides both: any non-ASCII or control character (a tab inside "Goog\tlebot") sends the
  // value the slow way, which removes invisible characters; else lower-case it if needed.
  let upper = false;
  for (let i = 0; i < userAgent.length; i++) {
    const c = userAgent.charCodeAt(i);
    if (c > 0x7e || c < 0x20) return unusualClaimText(userAgent);
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  return upper ? userAgent.toLowerCase() : userAgent;
}

function unusualClaimText(userAgent: string): string {
  let text = userAgent;
  // Node hands header values over byte by byte as latin1; UTF-8 sent by the client is decoded here, so a
  // zero-width space arrives as one character to remove rather than three to misread.
  if (/^[\0-\xff]*$/.test(text)) {
    // A plain loop: Uint8Array.from with a mapping callback took 4.5 of the ~6 ms a 64 KiB value cost.
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    try {
      text = UTF8.decode(bytes);
    } catch {
      // Not UTF-8: read as the latin1 it came as.
    }
  }
  if (text.length <= FOLDED_CHARACTERS) return fold(text);
  // A surrogate pair the cut splits is joined again, unfolded (folding leaves a lone half as it is). The
  // rest still loses its invisible characters and look-alikes, which are linear and never expand: a
  // combining mark the cut parts from its letter, or a zero-width space further on, hides nothing.
  return fold(text.slice(0, FOLDED_CHARACTERS)) + foldWithoutNormalizing(text.slice(FOLDED_CHARACTERS));
}

function foldWithoutNormalizing(text: string): string {
  return text.replace(INVISIBLE, '').toLowerCase().replace(LOOK_ALIKE, (c) => LOOK_ALIKES[c] ?? c);
}

function fold(text: string): string {
  return text.normalize('NFKD').replace(INVISIBLE, '').normalize('NFKC').toLowerCase().replace(LOOK_ALIKE, (c) => LOOK_ALIKES[c] ?? c);
}
