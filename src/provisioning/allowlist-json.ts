/** Refuses the whole file for what is wrong on one line. */
export type LineFault = (line: number, why: string) => never;

/** Longer strings (or numbers) are refused rather than held: a serial is at most 128 characters. */
const MAX_TOKEN = 64 * 1024;

type Token = '[' | ']' | '{' | '}' | ':' | ',' | 'string' | 'scalar';
type Expect = 'value' | 'value-or-close' | 'comma-or-close' | 'key' | 'key-or-close' | 'colon' | 'end';

const PUNCTUATION: Record<number, Token> = { 0x5b: '[', 0x5d: ']', 0x7b: '{', 0x7d: '}', 0x3a: ':', 0x2c: ',' };
const SCALAR = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)$/;
/** Letters, digits, "+", "-", ".": what numbers and true/false/null are made of. */
const isScalarChar = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x2b || c === 0x2d || c === 0x2e;

/**
 * A JSON array of serials, or of objects with a "serial" string, read as it
 * streams in: a tokenizer that holds at most one unfinished token between
 * chunks, and a grammar with a stack of open containers, so a file of
 * millions of elements on one line needs no more memory than a short one.
 * Members other than "serial" may hold any JSON value; they are skipped.
 */
export class JsonArraySerials {
  /** An unfinished token, carried over to the next chunk. */
  private pending = '';
  private lineNo = 1;
  private readonly stack: Array<'array' | 'object'> = [];
  private expect: Expect = 'value';
  /** The member name just read: at depth 2, a member of an element object. */
  private key = '';
  private serial: string | undefined;
  private elementLine = 0;

  constructor(
    private readonly fail: LineFault,
    private readonly onSerial: (serial: string, line: number) => void,
  ) {}

  /** The line being read, from 1. */
  get line(): number {
    return this.lineNo;
  }

  feed(chunk: string): void {
    const s = this.pending + chunk;
    this.pending = '';
    this.scan(s, false);
  }

  end(): void {
    const rest = this.pending;
    this.pending = '';
    this.scan(rest, true);
    if (this.expect !== 'end') this.fail(this.lineNo, this.stack.length === 0 ? 'the file holds no JSON array' : 'the file ends before the array is closed with "]"');
  }

  private scan(s: string, last: boolean): void {
    const n = s.length;
    let i = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 0x0a) {
        this.lineNo++;
        i++;
      } else if (c === 0x20 || c === 0x09 || c === 0x0d) {
        i++;
      } else if (c === 0x22) {
        const end = this.stringEnd(s, i + 1);
        if (end === -1) return this.carry(s.slice(i), last, 'the file ends inside a string');
        const raw = s.slice(i + 1, end);
        this.token('string', raw.includes('\\') ? this.unescape(s.slice(i, end + 1)) : raw);
        i = end + 1;
      } else if (PUNCTUATION[c] !== undefined) {
        this.token(PUNCTUATION[c], '');
        i++;
      } else {
        let j = i;
        while (j < n && isScalarChar(s.charCodeAt(j))) j++;
        if (j === i) this.fail(this.lineNo, `unexpected ${JSON.stringify(s[i])}`);
        // A number at the end of a chunk may go on in the next one.
        if (j === n && !last) return this.carry(s.slice(i), last, '');
        const word = s.slice(i, j);
        if (!SCALAR.test(word)) this.fail(this.lineNo, `unexpected ${JSON.stringify(word.slice(0, 40))}`);
        this.token('scalar', word);
        i = j;
      }
    }
  }

  private carry(rest: string, last: boolean, atEnd: string): void {
    if (last) this.fail(this.lineNo, atEnd);
    if (rest.length > MAX_TOKEN) this.fail(this.lineNo, `a value is longer than ${MAX_TOKEN} characters`);
    this.pending = rest;
  }

  /** Where the string that starts before `from` closes, or -1 when it goes on past `s`. */
  private stringEnd(s: string, from: number): number {
    for (let k = from; k < s.length; k++) {
      const c = s.charCodeAt(k);
      if (c === 0x22) return k;
      if (c === 0x5c) k++;
      else if (c < 0x20) this.fail(this.lineNo, c === 0x0a ? 'a string is not closed on its line' : `a string holds a raw control character (U+${c.toString(16).padStart(4, '0').toUpperCase()})`);
    }
    return -1;
  }

  private unescape(literal: string): string {
    try {
      return JSON.parse(literal) as string;
    } catch {
      return this.fail(this.lineNo, `a string has a bad escape: ${literal.slice(0, 40)}`);
    }
  }

  private token(t: Token, value: string): void {
    const inObject = this.stack[this.stack.length - 1] === 'object';
    switch (this.expect) {
      case 'end':
        return this.fail(this.lineNo, 'there is more after the array\'s closing "]"');
      case 'colon':
        if (t !== ':') this.fail(this.lineNo, 'expected ":" after a member name');
        this.expect = 'value';
        return;
      case 'comma-or-close':
        if (t === ',') this.expect = inObject ? 'key' : 'value';
        else if (t === (inObject ? '}' : ']')) this.close();
        else this.fail(this.lineNo, inObject ? 'expected "," or "}" after a member' : 'expected "," or "]" after an element');
        return;
      case 'key-or-close':
        if (t === '}') return this.close();
        return this.member(t, value);
      case 'key':
        return this.member(t, value);
      case 'value-or-close':
        if (t === ']') return this.close();
        return this.value(t, value);
      case 'value':
        return this.value(t, value);
    }
  }

  private member(t: Token, name: string): void {
    if (t !== 'string') this.fail(this.lineNo, 'expected a member name in double quotes');
    this.key = name;
    this.expect = 'colon';
  }

  private value(t: Token, v: string): void {
    if (t === ']' || t === '}' || t === ',' || t === ':') this.fail(this.lineNo, `unexpected "${t}"`);
    const depth = this.stack.length;
    if (depth === 0 && t !== '[') this.fail(this.lineNo, 'the file does not start with "["');
    if (depth === 1) {
      if (t === 'string') this.onSerial(v, this.lineNo);
      else if (t === '{') {
        this.serial = undefined;
        this.elementLine = this.lineNo;
      } else this.fail(this.lineNo, 'an element must be a string or an object with a "serial" string');
    }
    if (depth === 2 && this.key === 'serial') {
      if (t !== 'string') this.fail(this.lineNo, '"serial" must be a string');
      if (this.serial !== undefined) this.fail(this.lineNo, 'the object names "serial" twice');
      this.serial = v;
    }
    if (t === '[' || t === '{') {
      this.stack.push(t === '[' ? 'array' : 'object');
      this.expect = t === '[' ? 'value-or-close' : 'key-or-close';
    } else this.afterValue();
  }

  private close(): void {
    const closed = this.stack.pop();
    if (closed === 'object' && this.stack.length === 1) {
      if (this.serial === undefined) this.fail(this.elementLine, 'the object has no "serial" member');
      this.onSerial(this.serial, this.elementLine);
    }
    this.afterValue();
  }

  private afterValue(): void {
    this.expect = this.stack.length === 0 ? 'end' : 'comma-or-close';
  }
}
