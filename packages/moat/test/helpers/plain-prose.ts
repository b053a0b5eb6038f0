// Plain sentences as a user types them, for the long-value shortcuts' tests (raw form fields, JSON values):
// words, commas, full stops, question marks, and contractions when asked for.

const WORDS = ['the', 'garden', 'letter', 'morning', 'we', 'often', 'walk', 'to', 'market', 'quiet', 'evening', 'because', 'friends', 'visit'];

/** `length` characters of prose; `words` replaces the word list (the same seed gives the same text). */
export function plainProse(length: number, seed: number, apostrophes: boolean, words: readonly string[] = WORDS): string {
  const openings = apostrophes ? ["I don't think", "It's", 'My sister said', "They're sure", 'Honestly,'] : ['I think', 'It is', 'My sister said', 'They are sure', 'Honestly,'];
  let text = '';
  for (let k = seed; text.length < length; k++) {
    text += openings[k % openings.length];
    for (let i = 0; i < 9; i++) text += ' ' + words[(k * 7 + i * 3) % words.length] + (i === 4 ? ',' : '');
    text += k % 5 === 0 ? '? ' : '. ';
  }
  return text.slice(0, length);
}
