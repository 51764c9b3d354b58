// Names and notes come from other devices and import files. Some characters show nothing
// or reorder what is around them (a right-to-left override makes "moc.lapyap" read as
// "paypal.com"); the daemon refuses them in what is written now, and older data shown here
// has each of them replaced by a visible escape ("\u202e"). The rule is protocol/text.py's:
//
// refused: controls (Cc; a note keeps tab and line breaks), lone surrogates, format
// characters (Cf), line and paragraph separators, and Unicode's default-ignorable code
// points (Hangul fillers, variation selectors, tags...); allowed where real text needs
// them: a zero-width joiner or non-joiner between two visible characters (emoji sequences,
// Indic and Persian), one variation selector after a visible character, and tag
// characters only as an emoji subdivision flag (black flag, tag letters, cancel tag).

const ZWNJ = 0x200c;
const ZWJ = 0x200d;
const BLACK_FLAG = 0x1f3f4;
const CANCEL_TAG = 0xe007f;
const LINE_BREAKS = new Set(["\t", "\n", "\r"]);

// Unicode's Default_Ignorable_Code_Point, as protocol/text.py lists it.
const IGNORABLE = [
  [0x00ad, 0x00ad], [0x034f, 0x034f], [0x061c, 0x061c], [0x115f, 0x1160], [0x17b4, 0x17b5],
  [0x180b, 0x180f], [0x200b, 0x200f], [0x202a, 0x202e], [0x2060, 0x206f], [0x3164, 0x3164],
  [0xfe00, 0xfe0f], [0xfeff, 0xfeff], [0xffa0, 0xffa0], [0xfff0, 0xfff8], [0x1bca0, 0x1bca3],
  [0x1d173, 0x1d17a], [0xe0000, 0xe0fff],
];
const SELECTORS = [[0xfe00, 0xfe0f], [0xe0100, 0xe01ef], [0x180b, 0x180d], [0x180f, 0x180f]];
const FORMAT = /^[\p{Cf}\p{Zl}\p{Zp}]$/u;
const CONTROL = /^\p{Cc}$/u;
const SURROGATE = /^\p{Cs}$/u;
const SPACE = /^\s$/u;

const within = (cp, ranges) => ranges.some(([low, high]) => low <= cp && cp <= high);
const isTagSpec = (cp) => (cp >= 0xe0030 && cp <= 0xe0039) || (cp >= 0xe0061 && cp <= 0xe007a);

/** A character that shows nothing or changes how the text around it shows, out of context. */
export function invisible(c) {
  return FORMAT.test(c) || within(c.codePointAt(0), IGNORABLE);
}

function plain(c, lines) {
  if (CONTROL.test(c)) return lines && LINE_BREAKS.has(c);
  return !SURROGATE.test(c) && !invisible(c);
}

const base = (c) => c !== undefined && plain(c, false) && !SPACE.test(c);
const selector = (c) => within(c.codePointAt(0), SELECTORS);

/** Indexes (in code points) of the characters the rule refuses; [] when all is visible. */
export function hiddenAt(text, { lines = false } = {}) {
  const cs = Array.from(String(text ?? ""));
  const out = [];
  let i = 0;
  while (i < cs.length) {
    const c = cs[i];
    const cp = c.codePointAt(0);
    if (plain(c, lines)) {
      i += 1;
      continue;
    }
    if (cp === ZWJ || cp === ZWNJ) {
      const prev = cs[i - 1];
      const before = base(prev) || (prev !== undefined && selector(prev) && base(cs[i - 2]));
      if (!(before && base(cs[i + 1]))) out.push(i);
      i += 1;
      continue;
    }
    if (selector(c)) {
      if (!base(cs[i - 1])) out.push(i);
      i += 1;
      continue;
    }
    if (i > 0 && cs[i - 1].codePointAt(0) === BLACK_FLAG && isTagSpec(cp)) {
      let end = i;
      while (end < cs.length && isTagSpec(cs[end].codePointAt(0))) end += 1;
      if (end < cs.length && cs[end].codePointAt(0) === CANCEL_TAG) {
        i = end + 1;
        continue;
      }
    }
    out.push(i);
    i += 1;
  }
  return out;
}

export const visible = (text, options) => hiddenAt(text, options).length === 0;

/** "\u202e" for U+202E, "\U000e0041" beyond the BMP: as protocol/text.py writes them. */
export function escapeChar(c) {
  const cp = c.codePointAt(0);
  return cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, "0")}` : `\\U${cp.toString(16).padStart(8, "0")}`;
}

/** Text safe to show: each refused character as its visible escape, the rest as it is. */
export function neutralise(text, options) {
  const s = String(text ?? "");
  const found = hiddenAt(s, options);
  if (found.length === 0) return s;
  const cs = Array.from(s);
  for (const i of found) cs[i] = escapeChar(cs[i]);
  return cs.join("");
}

/** Text without the refused characters (an avatar's initial, say). */
export function stripHidden(text, options) {
  const s = String(text ?? "");
  const found = new Set(hiddenAt(s, options));
  if (found.size === 0) return s;
  return stripHidden(Array.from(s).filter((_, i) => !found.has(i)).join(""), options);
}
