// SQL injections a red team ran against better-sqlite3 (and reasoned for MySQL and PostgreSQL) that Moat
// let through, each sent through the whole Engine as parameter `q` of a query string, a urlencoded form
// body and a JSON body: every one must be blocked as attack-sqli, and the benign look-alikes beside it
// must pass.

import { test } from 'node:test';
import { asParameter, assertDecided, blockingEngine } from '../helpers/attack-engine.js';

/** A fresh engine per check, so no memo of an earlier value answers for a later one. */
function check(attacks: string[], benign: string[]): void {
  const shortened = (v: string) => (v.length > 80 ? '…' + v.slice(-60) : v);
  assertDecided(blockingEngine(), 'attack-sqli', attacks, (v) => asParameter(v).map(([where, r]) => [`${where}: ${shortened(v)}`, r]));
  assertDecided(blockingEngine(), 'passed', benign, (v) => asParameter(v).map(([where, r]) => [`${where} (benign): ${shortened(v)}`, r]));
}

const PAD = 'A'.repeat(1100);

test('a backslash before the closing quote: read both the MySQL way (odd run escapes) and the standard way (no escape)', () => {
  // `WHERE name = '${q}'`: `\\'` closes the literal in MySQL too (escaped backslash); `\'` closes it in SQLite, PostgreSQL, SQL Server, Oracle.
  check(["\\\\' OR 1=1-- -", "\\' UNION SELECT name,password FROM users--", "x\\\\\\\\' OR 'a'='a"], ["it\\'s fine", "C:\\Users\\O'Brien", 'say \\"hi\\" to me', "don\\'t panic"]);
});

test('numeric slot: decimal, exponent and hex literals, arithmetic, NULL, white space and unary signs before the number', () => {
  // `WHERE id = ${q}`: each returns every password through UNION.
  check(
    [
      '1.0 UNION SELECT name,password FROM users',
      '1e0 UNION SELECT name,password FROM users',
      '0x1 UNION SELECT name,password FROM users',
      '1-0 UNION SELECT name,password FROM users',
      '1*1 UNION SELECT name,password FROM users',
      'NULL UNION SELECT name,password FROM users',
      '\n1 UNION SELECT name,password FROM users',
      '\t1 UNION SELECT name,password FROM users',
      '+1 UNION SELECT name,password FROM users',
      '~0 UNION SELECT name,password FROM users',
    ],
    ['1.5 cups of flour', '1e3 is a thousand', '0x1F is 31', '1 - 2 people', '3 * 4 = 12', 'null and void', 'Null pointer exception in module', 'NULL is a value', '~1 hour', '\t1 apple', '+1 for this idea'],
  );
});

test('a comma after the literal or number, then a closing parenthesis and a clause, a further row or a subquery', () => {
  // `WHERE id IN (${q})`, `INSERT … VALUES ('${q}', 'hello')` and a multi-row insert: passwords returned or stored.
  check(
    ['1,2) UNION SELECT name,password FROM users--', "x', (SELECT group_concat(password) FROM users))--", "x', 'y'), ('z', (SELECT group_concat(password) FROM users))--"],
    ['1, 2, 3', '1, 2) something else', "x', 'y", 'red, green (select one) blue'],
  );
});

test('a long value with an encoding layer is also read raw for SQL: the quote the database sees is not the decoded one', () => {
  // `WHERE name = '${q}'` with 1,100 characters before: the app receives `%27`/`&#39;` as they are; every row.
  check([PAD + "%27x' OR 1=1--", PAD + "&#39;x' OR 1=1--"], [PAD + " it%27s John's book, 100% sure", PAD + ' Tom &amp; Jerry&#39;s show, Bob\'s pick']);
});

test('after a closed literal: COLLATE, a PostgreSQL cast, postfix null tests and adjacent literals read on', () => {
  // `WHERE name = '${q}'`: passwords through UNION, or every row through `(name='x') NOT NULL`.
  check(
    [
      "x' COLLATE NOCASE UNION SELECT name,password FROM users--",
      "x' NOT NULL--",
      "x' NOTNULL--",
      "x' ISNULL OR 1=1--",
      "x'::text UNION SELECT name,password FROM users--",
      "x' 'y' UNION SELECT name,password FROM users-- -",
    ],
    ["O'Brien", "it's not null", "Tom's collate box", "the 'x' 'y' pair"],
  );
});

test('word operators after a number: IN (SELECT …), IS [NOT] NULL, BETWEEN … AND … ending the value', () => {
  // `WHERE id = ${q}`: a row or none per guess (blind extraction), or every row.
  check(
    ['1 IN (SELECT 1 FROM users WHERE id=3 AND unicode(password)=65)', '1 IS NOT NULL', '1 NOTNULL', '1 BETWEEN 0 AND 1'],
    ['1 in (a, b)', '1 between 2 and 3 weeks', '2 is the answer', '1 in 3 people'],
  );
});

test('a subquery where a sort column or a limit goes: (CASE WHEN (SELECT …) …) and (SELECT …)-64', () => {
  // `ORDER BY ${q}` / `LIMIT ${q}`: the row order or the row count leaks a password character per request.
  check(
    ['(CASE WHEN (SELECT unicode(password) FROM users WHERE id=3)=65 THEN name ELSE id END)', '(SELECT unicode(password) FROM users WHERE id=3)-64', '(select count(*) from users)'],
    ['(select all that apply)', '(case when needed)', '(select one) of the options', '(Select your size) M'],
  );
});

test('stacked statements: ATTACH without DATABASE, WITH … DELETE, VACUUM INTO', () => {
  // `db.exec("… '${q}'")` with multiple statements: writes a new database file, empties a table.
  check(
    ["x'; ATTACH '/tmp/pwn.db' AS p; CREATE TABLE p.t(a); --", "x'; WITH c AS (SELECT 1) DELETE FROM users; --", "x'; VACUUM INTO '/tmp/copy.db'--", '1;SELECT(SLEEP(5))', "x';SELECT(password)FROM(users)--", '1; select (sleep(5))'],
    ["meet me; attach the photo please", "ok; with a friend as guide", "x'; vacuum the room", '1; select (one) of these', 'ok;select(all)', 'Step 2; select (x) from the list'],
  );
});

test('a backquoted identifier closed by the value, then the query it was in and a clause', () => {
  // SELECT `${q}` FROM users WHERE id=1: every name and password.
  check(['name` FROM users UNION SELECT password FROM users--', 'name` UNION SELECT password FROM users--'], ['The `<div>` element is a block', 'use `npm install` to start', '`x` from the docs', 'run `ls` or `dir`', '`# TODO` -- later', '`;` ends a statement']);
});

test('inch marks in prose: arithmetic that runs into a string is no SQL expression', () => {
  // A hardware-store search was blocked: the inch mark closed a "literal", then `or 3/4" brass`.
  check(['x" OR 3/4=0.75--'], ['pipe fitting 1/2" or 3/4" brass', 'bolts 1/4" or 5/16" long']);
});

test('values over 1 KiB: NULL, ~, (SELECT, (CASE and backquoted names are read as in a short value, whichever reader clears long fields', () => {
  // A comment swallows the padding, so each is the short attack above with the same effect; the prose
  // padding goes through the long-field readers (form, JSON) that clear long values without decoding them.
  const tail = '-- ' + ' The quick brown fox jumps over the lazy dog.'.repeat(30);
  const prose = ' The quick brown fox jumps over the lazy dog.'.repeat(30);
  check(
    [
      'NULL UNION SELECT name,password FROM users' + tail,
      '~0 UNION SELECT name,password FROM users' + tail,
      '\n1 UNION SELECT name,password FROM users' + tail,
      '(SELECT unicode(password) FROM users WHERE id=3)-64' + tail,
      '(CASE WHEN (SELECT unicode(password) FROM users WHERE id=3)=65 THEN name ELSE id END)' + tail,
      'name` FROM users UNION SELECT password FROM users' + tail,
    ],
    ['null and void' + prose, 'Null pointer exception in module' + prose, '~1 hour' + prose, '(select all that apply)' + prose, '(case when needed)' + prose, 'use `npm install` to start' + prose, 'The `<div>` element is a block' + prose],
  );
});
