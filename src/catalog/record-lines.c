/*
 * The fast path of a scan's line check, in WebAssembly with 128-bit SIMD (built by
 * `npm run build:wasm`, see scripts/build-wasm.sh; the built record-lines.wasm is committed, so
 * users need no compiler, and test/catalog/record-lines-wasm.test.ts rebuilds it and requires
 * the same bytes).
 *
 * Why WebAssembly: checking the JSON of every line was the biggest piece of a scan's CPU (1.44 s
 * of about 4.3 s for a million records), and the JavaScript checker (record-line.ts) reads at
 * most four bytes at a time. Here string content, almost every byte of a real line, is read
 * sixteen bytes at a time with SIMD compares, and a whole chunk of lines is checked in one call:
 * half the CPU time of the JavaScript checker on the same lines, copying the chunk into the
 * module's memory included (bench/record-line.ts). The AACID rules' fast path and the order of
 * neighbouring AACIDs, byte loops that cost the JavaScript another 0.3 s a million records,
 * ride along.
 *
 * Contract with record-line.ts, the one definition of a line's verdict: for each line this
 * either ACCEPTS it, which it does only for a line that `checkRecordLineRaw` accepts too (a
 * JSON object with the keys `aacid` and `metadata`, maybe `data_folder`, each once, `aacid` and
 * `data_folder` strings), reporting the same raw positions of those two values, or it DEFERS,
 * and the JavaScript checker decides the line and words its problem. It defers on anything
 * unusual (an error of any kind, an escaped key, nesting deeper than DEPTH_MAX), so it need not
 * reproduce messages or columns. The grammar it accepts is exactly JSON's (RFC 8259, as
 * JSON.parse): whitespace space, tab, LF, CR; no raw byte below 0x20 in a string; escapes
 * \" \\ \/ \b \f \n \r \t \uXXXX; numbers -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?; true, false,
 * null. UTF-8 validity is checked by the caller, as before.
 *
 * Memory, laid out by the caller (record-lines.ts): the chunk, followed by a `\n` and 16 more
 * bytes, so that a 16-byte load that starts inside a line never leaves the chunk's area (every
 * line ends at a `\n` or at the one written after the chunk, and a scan stops there); the line
 * ends (one int32 each); the file's AACID prefix `aacid__{collection}__`; and the results,
 * RESULT_INTS int32 per line:
 *   flags (0: deferred; else ACCEPTED | AACID_ESCAPED | FOLDER_ESCAPED | AACID_FAST | PREV_FAST),
 *   aacid value from, to, data_folder value from, to (-1, -1 when absent),
 *   positions relative to the chunk, between the quotes, escapes not decoded;
 *   with AACID_FAST, the AACID's timestamp as days since the epoch and seconds into the day;
 *   with PREV_FAST, -1, 0 or 1 as the AACID sorts before, equal to or after the previous line's.
 *
 * AACID_FAST is the scan's fast path of the AACID rules (record-rules.ts), on the AACID's bytes
 * as written: it holds exactly for
 *   ^aacid__{collection}__\d{8}T\d{6}Z__(?:{id}__)?[0-9A-Za-z]+$
 * no longer than `max_length` (AACID_MAX_LENGTH in src/aac), with a real date and time from
 * 1970 on, where the id is printable ASCII without `/` or `\` and does not end in `_` (it would
 * run into the `__` before the shortuuid). Those bytes are all ASCII, so they are the AACID's text too, and parseAacId
 * (src/aac) would accept it with this collection and timestamp (the test holds it to that).
 * Anything else goes to parseAacId for the exact verdict. PREV_FAST: this line and the one
 * before it are both AACID_FAST; comparing their bytes then is comparing their text.
 */
#include <stdint.h>
#include <wasm_simd128.h>

typedef uint8_t u8;

#define ACCEPTED 1
#define AACID_ESCAPED 2
#define FOLDER_ESCAPED 4
#define AACID_FAST 8
#define PREV_FAST 16

#define RESULT_INTS 8

#define DEPTH_MAX 4096

/* 1 for JSON whitespace. */
static const u8 WS[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

/* 1 for the characters allowed after a backslash other than `u`. */
static const u8 SIMPLE_ESCAPE[256] = {['"'] = 1, ['\\'] = 1, ['/'] = 1, ['b'] = 1,
                                      ['f'] = 1, ['n'] = 1,  ['r'] = 1, ['t'] = 1};

static const u8 HEX[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1};

/* Open containers of the value being skipped: 1 = object, 2 = array. */
static u8 stack[DEPTH_MAX];

/* Set by scan_string: whether the string just scanned held an escape. */
static int saw_escape;

static inline const u8 *skip_ws(const u8 *p, const u8 *e) {
  while (p < e && WS[*p]) p++;
  return p;
}

/*
 * `p` is just after an opening quote; returns the position after the closing quote, or 0. Reads
 * sixteen bytes at a time up to the first `"`, `\` or byte below 0x20: the `\n` at the line's end
 * is one, so no load runs more than 15 bytes past `e` (see the memory layout above).
 */
static const u8 *scan_string(const u8 *p, const u8 *e) {
  const v128_t quote = wasm_i8x16_splat('"');
  const v128_t backslash = wasm_i8x16_splat('\\');
  const v128_t space = wasm_i8x16_splat(0x20);
  int escaped = 0;
  for (;;) {
    uint32_t bits;
    for (;;) {
      v128_t v = wasm_v128_load(p);
      v128_t m = wasm_v128_or(wasm_v128_or(wasm_i8x16_eq(v, quote), wasm_i8x16_eq(v, backslash)),
                              wasm_u8x16_lt(v, space));
      bits = wasm_i8x16_bitmask(m);
      if (bits) break;
      p += 16;
    }
    p += __builtin_ctz(bits);
    if (p >= e) return 0; /* unterminated */
    u8 c = *p;
    if (c == '"') {
      saw_escape = escaped;
      return p + 1;
    }
    if (c != '\\') return 0; /* a raw control character */
    escaped = 1;
    p++;
    if (p >= e) return 0;
    c = *p;
    if (SIMPLE_ESCAPE[c]) {
      p++;
    } else if (c == 'u') {
      if (p + 4 >= e) return 0;
      if (!(HEX[p[1]] & HEX[p[2]] & HEX[p[3]] & HEX[p[4]])) return 0;
      p += 5;
    } else {
      return 0;
    }
  }
}

static inline int is_digit(u8 c) { return (u8)(c - '0') <= 9; }

/* `p` is at `-` or a digit. */
static const u8 *scan_number(const u8 *p, const u8 *e) {
  if (*p == '-') p++;
  if (p >= e) return 0;
  if (*p == '0') {
    p++;
  } else if (*p >= '1' && *p <= '9') {
    p++;
    while (p < e && is_digit(*p)) p++;
  } else {
    return 0;
  }
  if (p < e && *p == '.') {
    p++;
    if (p >= e || !is_digit(*p)) return 0;
    while (p < e && is_digit(*p)) p++;
  }
  if (p < e && (*p | 0x20) == 'e') {
    p++;
    if (p < e && (*p == '+' || *p == '-')) p++;
    if (p >= e || !is_digit(*p)) return 0;
    while (p < e && is_digit(*p)) p++;
  }
  return p;
}

static const u8 *scan_literal(const u8 *p, const u8 *e) {
  u8 c = *p;
  if (c == 't') {
    if (p + 4 <= e && p[1] == 'r' && p[2] == 'u' && p[3] == 'e') return p + 4;
  } else if (c == 'f') {
    if (p + 5 <= e && p[1] == 'a' && p[2] == 'l' && p[3] == 's' && p[4] == 'e') return p + 5;
  } else if (c == 'n') {
    if (p + 4 <= e && p[1] == 'u' && p[2] == 'l' && p[3] == 'l') return p + 4;
  }
  return 0;
}

/* After `{` or `,` in an object, whitespace skipped: a key, whitespace, `:`. */
static const u8 *scan_key_colon(const u8 *p, const u8 *e) {
  if (p >= e || *p != '"') return 0;
  p = scan_string(p + 1, e);
  if (!p) return 0;
  p = skip_ws(p, e);
  if (p >= e || *p != ':') return 0;
  return p + 1;
}

/* One JSON value with leading whitespace; returns the position after it, or 0. */
static const u8 *skip_value(const u8 *p, const u8 *e) {
  int depth = 0;
  for (;;) {
    p = skip_ws(p, e);
    if (p >= e) return 0;
    u8 c = *p;
    if (c == '"') {
      p = scan_string(p + 1, e);
    } else if (c == '{') {
      p = skip_ws(p + 1, e);
      if (p < e && *p == '}') {
        p++;
      } else {
        if (depth == DEPTH_MAX) return 0;
        stack[depth++] = 1;
        p = scan_key_colon(p, e);
        if (!p) return 0;
        continue;
      }
    } else if (c == '[') {
      p = skip_ws(p + 1, e);
      if (p < e && *p == ']') {
        p++;
      } else {
        if (depth == DEPTH_MAX) return 0;
        stack[depth++] = 2;
        continue;
      }
    } else if (c == '-' || is_digit(c)) {
      p = scan_number(p, e);
    } else {
      p = scan_literal(p, e);
    }
    if (!p) return 0;
    /* A value ended at p: close containers until one continues with `,`. */
    for (;;) {
      if (depth == 0) return p;
      p = skip_ws(p, e);
      if (p >= e) return 0;
      u8 d = *p;
      u8 kind = stack[depth - 1];
      if (d == ',') {
        p++;
        if (kind == 1) {
          p = scan_key_colon(skip_ws(p, e), e);
          if (!p) return 0;
        }
        break;
      }
      if (d == (kind == 1 ? '}' : ']')) {
        depth--;
        p++;
        continue;
      }
      return 0;
    }
  }
}

#define KEY_AACID 1
#define KEY_METADATA 2
#define KEY_DATA_FOLDER 4

static int key_of(const u8 *a, const u8 *b) {
  long n = b - a;
  if (n == 5 && a[0] == 'a' && a[1] == 'a' && a[2] == 'c' && a[3] == 'i' && a[4] == 'd')
    return KEY_AACID;
  if (n == 8 && a[0] == 'm' && a[1] == 'e' && a[2] == 't' && a[3] == 'a' && a[4] == 'd' &&
      a[5] == 'a' && a[6] == 't' && a[7] == 'a')
    return KEY_METADATA;
  if (n == 11 && a[0] == 'd' && a[1] == 'a' && a[2] == 't' && a[3] == 'a' && a[4] == '_' &&
      a[5] == 'f' && a[6] == 'o' && a[7] == 'l' && a[8] == 'd' && a[9] == 'e' && a[10] == 'r')
    return KEY_DATA_FOLDER;
  return 0;
}

static inline int is_alnum(u8 c) { return is_digit(c) || (u8)((c | 0x20) - 'a') <= 25; }

static const int DAYS_IN_MONTH[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/*
 * Whether the AACID written at [a, b) passes the fast check (see the top comment) against
 * `prefix` ([prefix, prefix + plen)) and `max_length`; if so, its timestamp goes to *days and *sod.
 */
static int fast_aacid(const u8 *a, const u8 *b, const u8 *prefix, int32_t plen, int32_t max_length,
                      int32_t *days, int32_t *sod) {
  if (b - a > max_length) return 0;
  const u8 *ts = a + plen;
  const u8 *rest = ts + 18; /* after `{timestamp}__` */
  if (rest >= b) return 0;
  for (int32_t k = 0; k < plen; k++)
    if (a[k] != prefix[k]) return 0;
  for (int k = 0; k < 15; k++) {
    u8 c = ts[k];
    if (k == 8 ? c != 'T' : !is_digit(c)) return 0;
  }
  if (ts[15] != 'Z' || ts[16] != '_' || ts[17] != '_') return 0;
  /* The shortuuid is the trailing run of letters and digits; anything before it is `{id}__`. */
  const u8 *j = b;
  while (j > rest && is_alnum(j[-1])) j--;
  if (j == b) return 0;
  if (j > rest) {
    const u8 *id_end = j - 2;
    if (id_end <= rest || id_end[0] != '_' || id_end[1] != '_' || id_end[-1] == '_') return 0;
    for (const u8 *q = rest; q < id_end; q++)
      if (*q < 0x21 || *q > 0x7e || *q == '/' || *q == '\\') return 0;
  }
#define D(i) (ts[i] - '0')
  int y = D(0) * 1000 + D(1) * 100 + D(2) * 10 + D(3);
  int mo = D(4) * 10 + D(5), day = D(6) * 10 + D(7);
  int h = D(9) * 10 + D(10), mi = D(11) * 10 + D(12), se = D(13) * 10 + D(14);
#undef D
  if (h > 23 || mi > 59 || se > 59) return 0;
  if (y < 1970 || mo < 1 || mo > 12 || day < 1) return 0;
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (day > (mo == 2 ? (leap ? 29 : 28) : DAYS_IN_MONTH[mo - 1])) return 0;
  /* Howard Hinnant's days_from_civil (y >= 1970, so no negative division). */
  int yy = mo <= 2 ? y - 1 : y;
  int era = yy / 400;
  int yoe = yy - era * 400;
  int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  *days = era * 146097 + doe - 719468;
  *sod = h * 3600 + mi * 60 + se;
  return 1;
}

/* -1, 0 or 1 as bytes [a, a_end) sort before, equal to or after [b, b_end). */
static int32_t compare_bytes(const u8 *a, const u8 *a_end, const u8 *b, const u8 *b_end) {
  long na = a_end - a, nb = b_end - b;
  long n = na < nb ? na : nb;
  for (long k = 0; k < n; k++)
    if (a[k] != b[k]) return a[k] < b[k] ? -1 : 1;
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/* Checks the line [s, e) of the chunk at `base`; fills out[0..4] (see the top comment). */
static void check_line(const u8 *base, const u8 *s, const u8 *e, int32_t *out) {
  int32_t aacid_from = -1, aacid_to = -1, folder_from = -1, folder_to = -1;
  int flags = ACCEPTED, seen = 0;
  out[0] = 0;
  const u8 *p = skip_ws(s, e);
  if (p >= e || *p != '{') return;
  p = skip_ws(p + 1, e);
  for (;;) {
    if (p >= e || *p != '"') return;
    const u8 *key_from = p + 1;
    p = scan_string(key_from, e);
    if (!p || saw_escape) return;
    int key = key_of(key_from, p - 1);
    if (!key || (seen & key)) return;
    seen |= key;
    p = skip_ws(p, e);
    if (p >= e || *p != ':') return;
    p = skip_ws(p + 1, e);
    if (key == KEY_METADATA) {
      p = skip_value(p, e);
      if (!p) return;
    } else {
      if (p >= e || *p != '"') return;
      const u8 *from = p + 1;
      p = scan_string(from, e);
      if (!p) return;
      if (key == KEY_AACID) {
        aacid_from = (int32_t)(from - base);
        aacid_to = (int32_t)(p - 1 - base);
        if (saw_escape) flags |= AACID_ESCAPED;
      } else {
        folder_from = (int32_t)(from - base);
        folder_to = (int32_t)(p - 1 - base);
        if (saw_escape) flags |= FOLDER_ESCAPED;
      }
    }
    p = skip_ws(p, e);
    if (p >= e) return;
    if (*p == ',') {
      p = skip_ws(p + 1, e);
      continue;
    }
    if (*p != '}') return;
    p++;
    break;
  }
  if (skip_ws(p, e) != e || !(seen & KEY_AACID) || !(seen & KEY_METADATA)) return;
  out[0] = flags;
  out[1] = aacid_from;
  out[2] = aacid_to;
  out[3] = folder_from;
  out[4] = folder_to;
}

/*
 * Checks the `count` lines of the chunk of `length` bytes at `chunk`: line k ends at
 * ends[k] (its `\n`, or `length` for an unterminated last line) and starts after the previous
 * one's end. `prefix` is the file's `aacid__{collection}__`, `max_length` the longest AACID.
 * Writes RESULT_INTS int32 per line.
 */
__attribute__((export_name("check_lines"))) void check_lines(const u8 *chunk, int32_t length,
                                                             const int32_t *ends, int32_t count,
                                                             const u8 *prefix, int32_t plen,
                                                             int32_t max_length, int32_t *out) {
  (void)length;
  int32_t start = 0;
  int prev_fast = 0;
  const u8 *prev_from = 0, *prev_to = 0;
  for (int32_t k = 0; k < count; k++, out += RESULT_INTS) {
    int32_t end = ends[k];
    check_line(chunk, chunk + start, chunk + end, out);
    start = end + 1;
    int fast = 0;
    if ((out[0] & (ACCEPTED | AACID_ESCAPED)) == ACCEPTED) {
      const u8 *a = chunk + out[1], *b = chunk + out[2];
      fast = fast_aacid(a, b, prefix, plen, max_length, &out[5], &out[6]);
      if (fast) {
        out[0] |= AACID_FAST;
        if (prev_fast) {
          out[0] |= PREV_FAST;
          out[7] = compare_bytes(a, b, prev_from, prev_to);
        }
        prev_from = a;
        prev_to = b;
      }
    }
    prev_fast = fast;
  }
}
