/*
 * The fast path of a scan's line check, in WebAssembly with 128-bit SIMD (built by
 * `npm run build:wasm`, see scripts/build-wasm.sh; the built record-lines.wasm is committed, so
 * users need no compiler, and test/catalog/record-lines-wasm.test.ts rebuilds it and requires
 * the same bytes).
 *
 * Why WebAssembly: checking the JSON of every line was the biggest piece of a scan's CPU (1.44 s
 * of about 4.3 s for a million records), and the JavaScript checker (record-line.ts) reads at
 * most four bytes at a time. Here string content, almost every byte of a real line, is read
 * sixteen bytes at a time with SIMD compares, and a whole chunk of lines is checked in one call.
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
 * ends (one int32 each); and the results, five int32 per line:
 *   flags (0: deferred; else ACCEPTED | AACID_ESCAPED | FOLDER_ESCAPED),
 *   aacid value from, to, data_folder value from, to (-1, -1 when absent),
 * positions relative to the chunk, between the quotes, escapes not decoded.
 */
#include <stdint.h>
#include <wasm_simd128.h>

typedef uint8_t u8;

#define ACCEPTED 1
#define AACID_ESCAPED 2
#define FOLDER_ESCAPED 4

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
 * one's end. Writes five int32 per line to `out`.
 */
__attribute__((export_name("check_lines"))) void check_lines(const u8 *chunk, int32_t length,
                                                             const int32_t *ends, int32_t count,
                                                             int32_t *out) {
  (void)length;
  int32_t start = 0;
  for (int32_t k = 0; k < count; k++) {
    int32_t end = ends[k];
    check_line(chunk, chunk + start, chunk + end, out + 5 * k);
    start = end + 1;
  }
}
