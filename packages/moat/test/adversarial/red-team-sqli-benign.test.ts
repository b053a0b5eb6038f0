// Prose a false-positive hunt found blocked as SQL injection (quoted UI labels and operator words, quoted
// symbols, counts joined by `or`/`and`, hashtags and dashes after a quote, titles named like a delay
// function), each sent through the whole Engine as parameter `q` of a query string, a urlencoded form body
// and a JSON body: every one must pass, and the attacks of the same shape beside it must stay blocked.

import { test } from 'node:test';
import { assertDecided, blockingEngine } from '../helpers/attack-engine.js';

const engine = blockingEngine();

function check(benign: string[], attacks: string[]): void {
  assertDecided(engine, 'passed', benign);
  assertDecided(engine, 'attack-sqli', attacks);
}

const PAD = ' The quick brown fox jumps over the lazy dog.'.repeat(30);

test('a quoted SQL operator word is a label or a word under discussion, not a comparison', () => {
  check(
    ['"like" button not working', '"in" vs "on" english', '"or" vs "and" grammar', 'click "Like"', 'Please "like" & share', '"Escape" key not working mac', '"mod" function excel',
      'Select "Match Case" in the search options.', 'Hit "like" and "subscribe" for more videos!', 'Is "in" or "on" correct here?', '"between" vs "among"', 'Choose "Is" from the dropdown, then "equal to".',
      "Then tap 'Or' twice", 'query { search(term: "like") { id } }', '"or"', 'Can I use "IN" with a subquery?', 'Click "Like"' + PAD],
    ["x' LIKE '%", "' OR name LIKE 'a%", "' OR 'something' like 'some%'", "' AND 'a' REGEXP 'a'--", "x' REGEXP '", "' IN (SELECT password FROM users)--", "x' or 'y", "'or'1",
      "\" or \"\"=\"", "1' or '1'='1'--", "' OR '1'='1" + PAD],
  );
});

test('a quoted symbol before prose is a quotation, not arithmetic on the literal', () => {
  check(
    ['"+" button on keyboard not working', '"=" sign in google sheets', 'Press "+" to zoom in and "-" to zoom out.', 'Use "*" as a wildcard, e.g. report*.pdf', "Split on '|' and ','",
      'Replace "/" with "-" in the filename', '"<" and ">" symbols', 'The "%" sign means modulo.', 'Click "^" to continue', "Use the '|' character to separate values"],
    ["'='", "'-'", "'+'", "x'*'", "' = '' OR 1=1--", "' || ' x' OR 1=1--", "' OR ' a'=' a", "1 or ' a'=' a", "' or ' a' and ' b'=' b", "' OR ' a' LIKE ' a%", "x' + (SELECT password FROM users LIMIT 1)--", "' || (SELECT password FROM users)--"],
  );
});

test('counts joined by or/and end in prose, not in a word operator with its operand', () => {
  check(
    ['1 or 2 in stock', '5 and 6 is sold out', '4 or 5 like new', '2 or 3 is fine for a small family.', '- 2 or 3 in a box, depending on the size', '(2 or 3 is plenty)',
      '1 or 2 between meals', '10 or 12 like last time please.', '2 into @sales team', '5 into @john and @mary'],
    ['1 or 1 is not null', '1 or 2 in (select 1)', '1 or 1 like 1', '1 and 1 is true', '1 or 1=1', '1 or true', '1 into @a', '1 into @a, @b', '1 OR 1 IN (SELECT 1 FROM users)--'],
  );
});

test('a hashtag, a flag or a dash after a quotation mark, a possessive or an inch mark is punctuation, not a comment', () => {
  check(
    ['"#" key on iphone', '"#1 best seller" books', '"--force" npm install', "parents' #1 choice stroller", "Players' #2 pick", 'Voted "#1 Pizza in Town" three years running!',
      "The teachers' -- not the students' -- fault.", 'It\'s 12" -- perfect for a small kitchen.', 'I\'m 6\'2" -- is that too tall for this bike?', "Press '#' to return to the main menu.",
      "Type '--' to get an em dash in Word.", 'Tag us with "#MyBrandStyle"', "'#throwback' photos only", 'Dial "#" then your PIN.'],
    ["admin'#", "admin' #", "admins' #", "admin '#", "admin'-- -", "admin' -- -", "'--", "'#", "1' #1", "admin'#1", 'It\'s 12" -- ', "teachers' -- ", "admin')#", 'admin"--'],
  );
});

test('a title named like a delay function, with a word in parentheses, is no call', () => {
  check(['"Benchmark (computing)"', "'Sleep (Remix)' lyrics"], ["' sleep(5)", "x' benchmark (1000000,md5(1))", "' and sleep (5)", "x' SLEEP(5)--", "' pg_sleep(5)--"]);
});
