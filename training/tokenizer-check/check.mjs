// Usage: npm install && node check.mjs VOCAB.txt ROWS.jsonl DATA_DIR MAX_SEQ N   (compares N evenly spaced rows; counts only)
// Spot check: ModelPrep tokenize-wordpiece ids vs @lenml/tokenizers (transformers.js BERT tokenizer). Prints counts only.
import fs from "fs";
import { TokenizerLoader } from "@lenml/tokenizers";
const [vocabPath, rowsPath, dataDir, maxSeqS, nS] = process.argv.slice(2);
const maxSeq = +maxSeqS, n = +nS;
const vocab = {}; fs.readFileSync(vocabPath, "utf8").split(/\r?\n/).forEach((t, i) => { if (t.length) vocab[t] = i; });
const tokenizerJSON = {
  version: "1.0", truncation: null, padding: null,
  added_tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].map(t => ({ id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
  normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: "BertPreTokenizer" }, post_processor: null, decoder: { type: "WordPiece", prefix: "##", cleanup: true },
  model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
};
const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig: { do_lower_case: true, model_max_length: 512, tokenizer_class: "BertTokenizer" } });
const byId = new Map();
for (const f of fs.readdirSync(dataDir).filter(f => f.endsWith(".jsonl")).sort())
  for (const line of fs.readFileSync(`${dataDir}/${f}`, "utf8").split("\n")) if (line) { const r = JSON.parse(line); byId.set(r.id, r); }
const rows = fs.readFileSync(rowsPath, "utf8").split("\n").filter(Boolean).map(l => JSON.parse(l));
const step = Math.max(1, Math.floor(rows.length / n));
let checked = 0, mismatch = 0, pairs = 0, unk = 0; const bySource = {};
const enc = s => tok.encode(s.trim(), { add_special_tokens: false });
for (let i = 0; i < rows.length && checked < n; i += step) {
  const row = rows[i], d = byId.get(row.id);
  const p = enc(d.prompt);
  let ids;
  const resp = row.resp ? d.response : null;
  if (resp == null) ids = [101, ...p.slice(0, maxSeq - 2), 102];
  else {
    pairs++;
    const r = enc(resp); let pk = p.length, rk = r.length; const b = maxSeq - 3;
    if (p.length + r.length > b) { pk = Math.min(p.length, Math.floor(b / 2)); rk = Math.min(r.length, b - pk); }
    ids = [101, ...p.slice(0, pk), 102, ...r.slice(0, rk), 102];
  }
  checked++;
  if (ids.length !== row.ids.length || ids.some((v, k) => v !== row.ids[k])) { mismatch++; bySource[row.source] = (bySource[row.source] || 0) + 1; }
  unk += row.ids.filter(v => v === 100).length;
}
console.log(JSON.stringify({ checked, pairs, mismatch, mismatchBySource: bySource, unkTokensInChecked: unk }));
