/** SQL vocabulary the SQL tokeniser classifies words with (upper case). */

/** Words that continue an expression after a closed literal: `' OR …`, `1 AND …`. */
export const SQL_LOGIC = new Set(['OR', 'AND', 'XOR', 'NOT', '||', '&&']);

/** Comparison and pattern operators written as words. */
export const SQL_WORD_OPERATORS = new Set(['LIKE', 'RLIKE', 'REGEXP', 'SIMILAR', 'IS', 'IN', 'BETWEEN', 'SOUNDS', 'DIV', 'MOD', 'GLOB', 'MATCH', 'ILIKE', 'COLLATE', 'ESCAPE']);

/** Clauses that may follow a closed literal or number and reshape the statement. */
export const SQL_CLAUSES = new Set(['UNION', 'ORDER', 'GROUP', 'HAVING', 'LIMIT', 'OFFSET', 'INTO', 'PROCEDURE', 'WHERE', 'FROM', 'INTERSECT', 'EXCEPT', 'MINUS', 'FOR', 'RETURNING', 'WINDOW']);

/** Statements that make a stacked query after `;`. */
export const SQL_STATEMENTS = new Set([
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'DROP', 'CREATE', 'ALTER', 'TRUNCATE', 'EXEC', 'EXECUTE', 'DECLARE',
  'SHUTDOWN', 'WAITFOR', 'SET', 'GRANT', 'REVOKE', 'REPLACE', 'MERGE', 'CALL', 'COPY', 'LOAD', 'HANDLER', 'BEGIN',
  'COMMIT', 'ROLLBACK', 'USE', 'SHOW', 'DESCRIBE', 'DESC', 'PRAGMA', 'ATTACH', 'DBCC', 'BACKUP', 'RESTORE', 'KILL', 'IF', 'WITH', 'VALUES', 'RENAME', 'LOCK', 'PREPARE', 'DO',
]);

/** Literal-like keywords that complete an operand. */
export const SQL_CONSTANTS = new Set(['NULL', 'TRUE', 'FALSE', 'CURRENT_USER', 'USER', 'SESSION_USER', 'SYSTEM_USER', 'VERSION', 'DATABASE', 'SCHEMA', 'UNKNOWN', 'SYSDATE', 'CURRENT_DATE', 'CURRENT_TIMESTAMP', 'ROWNUM', 'DUAL']);

/** Keywords that start a value: a subquery, a CASE, EXISTS. */
export const SQL_VALUE_STARTERS = new Set(['SELECT', 'CASE', 'EXISTS', 'CAST', 'CONVERT', 'ANY', 'ALL', 'SOME', 'BINARY', 'INTERVAL', 'IF', 'IIF', 'CHR', 'CHAR']);

/**
 * Functions whose call after a closed literal is an attack on its own: delays, file and network
 * access, error-based extraction, fingerprinting. A call to any other word is only structure when an
 * operator precedes it.
 */
export const SQL_FUNCTIONS = new Set([
  'SLEEP', 'BENCHMARK', 'PG_SLEEP', 'PG_SLEEP_FOR', 'DBMS_PIPE', 'RECEIVE_MESSAGE', 'DBMS_LOCK', 'RANDOMBLOB', 'LIKELIHOOD',
  'LOAD_FILE', 'EXTRACTVALUE', 'UPDATEXML', 'EXP', 'GTID_SUBSET', 'JSON_KEYS', 'NAME_CONST', 'FLOOR', 'RAND', 'COUNT',
  'CONCAT', 'CONCAT_WS', 'GROUP_CONCAT', 'STRING_AGG', 'CHAR', 'CHR', 'NCHAR', 'ASCII', 'ORD', 'HEX', 'UNHEX', 'SUBSTRING',
  'SUBSTR', 'MID', 'LEFT', 'RIGHT', 'LENGTH', 'LEN', 'IF', 'IIF', 'CASE', 'VERSION', 'DATABASE', 'USER', 'CURRENT_USER',
  'SYSTEM_USER', 'DB_NAME', 'SCHEMA', 'CAST', 'CONVERT', 'UTL_INADDR', 'GET_HOST_ADDRESS', 'UTL_HTTP', 'REQUEST',
  'XP_CMDSHELL', 'XP_DIRTREE', 'OPENROWSET', 'OPENQUERY', 'SQLITE_VERSION', 'LOWER', 'UPPER', 'MD5', 'SHA1', 'ELT',
  'MAKE_SET', 'EXISTS', 'COALESCE', 'IFNULL', 'NULLIF', 'ISNULL', 'REPLACE', 'REPEAT', 'SPACE', 'REVERSE', 'TRIM',
  'POW', 'POWER', 'ABS', 'BIN', 'OCT', 'CONV', 'INSTR', 'LOCATE', 'POSITION', 'STRCMP', 'SOUNDEX', 'REGEXP_LIKE',
  'REGEXP_SUBSTR', 'CTXSYS', 'DRITHSX', 'SYS', 'XMLTYPE', 'DBMS_XMLGEN', 'QUERY_TO_XML', 'PG_READ_FILE', 'LO_IMPORT',
  'CURRENT_SETTING', 'INET_SERVER_ADDR', 'LOAD_EXTENSION', 'ZEROBLOB', 'UNICODE', 'TYPEOF', 'SELECT', 'WAITFOR', 'ROW',
  'GREATEST', 'LEAST', 'FIELD', 'ST_LATFROMGEOHASH', 'POLYGON', 'MULTIPOINT', 'LINESTRING', 'GEOMETRYCOLLECTION',
]);

/** Of SQL_FUNCTIONS, the ones that are attacks wherever they appear after a closed literal, even without an operator. */
export const SQL_ATTACK_FUNCTIONS = new Set(['SLEEP', 'BENCHMARK', 'PG_SLEEP', 'PG_SLEEP_FOR', 'DBMS_PIPE', 'RECEIVE_MESSAGE', 'LOAD_FILE', 'EXTRACTVALUE', 'UPDATEXML', 'XP_CMDSHELL', 'XP_DIRTREE', 'UTL_INADDR', 'UTL_HTTP', 'PG_READ_FILE', 'LOAD_EXTENSION', 'RANDOMBLOB', 'WAITFOR']);
