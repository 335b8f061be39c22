/**
 * JSON text to values for every json and jsonb column Eddy reads (`values.ts`) and for
 * `rawJson()` args, so that a worker and the insert-time schema see the same values.
 */

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const NUMBER_PARTS = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;
// The most digits numeric holds before the point: Postgres refuses a longer integer.
const MAX_INTEGER_DIGITS = 131072;

/**
 * JSON text as `JSON.parse` reads it, except that an integer (no fraction, no exponent) beyond
 * ±(2^53−1) becomes a `bigint` where `JSON.parse` would round it silently: Go River's int64 ids,
 * `rawJson()` args. jsonb prints every whole number in that form (`1e20` as
 * `100000000000000000000`), so for jsonb the rule covers them all. Text without a 16-digit run,
 * nearly all of it, goes straight to the native `JSON.parse`.
 *
 * @example
 * ```ts
 * parseJson('{"id": 9007199254740993, "n": 1}'); // { id: 9007199254740993n, n: 1 }
 * ```
 */
export function parseJson(text: string): unknown {
  return hasLongDigitRun(text) ? parseJsonWithBigInts(text, false) : JSON.parse(text);
}

const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * Whether `text` has a run of 16 or more digits, as every integer beyond ±(2^53−1) does. Such a
 * run covers one position in every 16, so only those are probed: a regex test cost several
 * times more, a sizeable share of `JSON.parse` on small args.
 */
export function hasLongDigitRun(text: string): boolean {
  const length = text.length;
  for (let i = 15; i < length; i += 16) {
    if (!isDigit(text.charCodeAt(i))) continue;
    let start = i;
    while (start > 0 && isDigit(text.charCodeAt(start - 1))) start--;
    let end = i + 1;
    while (end < length && isDigit(text.charCodeAt(end))) end++;
    if (end - start >= 16) return true;
    i = end - 1; // `end` is no digit: a longer run lies wholly after it, and is probed so
  }
  return false;
}

/**
 * JSON text as a worker will receive it once Postgres has stored it as jsonb, where a number
 * whose exponent absorbs its fraction digits is printed as an integer (`9.007199254740993e15`
 * as `9007199254740993`): the values `rawJson()` args are validated as. Always the slow path.
 */
export function parseJsonAsJsonb(text: string): unknown {
  return parseJsonWithBigInts(text, true);
}

function jsonNumber(token: string, asJsonb: boolean): number | bigint {
  const n = Number(token);
  if (Number.isSafeInteger(n)) return n;
  const [, sign, whole, fraction = '', exponent = ''] = NUMBER_PARTS.exec(token) as string[];
  if (!asJsonb && (fraction || exponent)) return n;
  // jsonb prints a number with fraction digits left (`1.5`, `2.50e1` as `25.0`) as such: a JS
  // number, as JSON.parse gives it; the others as integers.
  const shift = Number(exponent) - fraction.length;
  if (shift < 0 || (whole as string).length + shift > MAX_INTEGER_DIGITS) return n;
  return BigInt(`${sign}${whole}${fraction}${'0'.repeat(shift)}`);
}

function setMember(object: Record<string, unknown>, key: string, value: unknown): void {
  // Assigning `__proto__` would set the prototype; JSON.parse makes it an own property.
  if (key === '__proto__') {
    Object.defineProperty(object, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else object[key] = value;
}

/**
 * The slow path of `parseJson`: iterative, because jsonb nests deeper (thousands of levels)
 * than a recursive parser could follow, and a row that cannot be decoded would fail its whole
 * claimed batch. Strings and their escapes are left to `JSON.parse`.
 */
function parseJsonWithBigInts(text: string, asJsonb: boolean): unknown {
  const open: (unknown[] | Record<string, unknown>)[] = [];
  const keys: string[] = []; // the key awaiting its value, per open object
  let i = 0;
  const fail = (): never => {
    throw new SyntaxError(`Unexpected token in JSON at position ${i}`);
  };
  const space = () => {
    for (let c = text.charCodeAt(i); c === 32 || c === 10 || c === 13 || c === 9; ) {
      c = text.charCodeAt(++i);
    }
  };
  const string = (): string => {
    const start = i;
    let escaped = false;
    for (i++; ; i++) {
      const c = text.charCodeAt(i);
      if (c === 34) break;
      if (c === 92) {
        escaped = true;
        i++;
      } else if (!(c >= 32)) fail(); // a control character, or the end of the text
    }
    i++;
    return escaped ? JSON.parse(text.slice(start, i)) : text.slice(start + 1, i - 1);
  };
  const literal = (value: boolean | null, length: number) => {
    i += length;
    return value;
  };
  const key = (): string => {
    space();
    if (text.charCodeAt(i) !== 34) fail();
    const k = string();
    space();
    if (text.charCodeAt(i++) !== 58) fail();
    return k;
  };
  for (;;) {
    space();
    const c = text.charCodeAt(i);
    let value: unknown;
    if (c === 123 || c === 91) {
      i++;
      space();
      if (text.charCodeAt(i) === c + 2) {
        i++;
        value = c === 123 ? {} : [];
      } else {
        open.push(c === 123 ? {} : []);
        if (c === 123) keys.push(key());
        continue;
      }
    } else if (c === 34) value = string();
    else if (text.startsWith('true', i)) value = literal(true, 4);
    else if (text.startsWith('false', i)) value = literal(false, 5);
    else if (text.startsWith('null', i)) value = literal(null, 4);
    else {
      NUMBER.lastIndex = i;
      const token = NUMBER.exec(text)?.[0] ?? fail();
      i += token.length;
      value = jsonNumber(token, asJsonb);
    }
    // Place the value, then close every container that ends after it.
    for (;;) {
      const top = open[open.length - 1];
      if (top === undefined) {
        space();
        return i === text.length ? value : fail();
      }
      const isArray = Array.isArray(top);
      if (isArray) top.push(value);
      else setMember(top, keys.pop() as string, value);
      space();
      const next = text.charCodeAt(i++);
      if (next === 44) {
        if (!isArray) keys.push(key());
        break;
      }
      if (next !== (isArray ? 93 : 125)) fail();
      value = open.pop();
    }
  }
}
