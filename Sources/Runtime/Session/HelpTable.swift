// The help text of every builtin and binding, as data in one place: `help()`,
// `help "topic"`, `help(len)`, tab completion and docs/reference.md (via
// `HelpTable.markdown()`) all read this table.

import Foundation
import MedR1Lib

public struct HelpEntry: Sendable, Equatable {
    /// The name a script calls.
    public var name: String
    /// Call shape with keyword options and their defaults.
    public var signature: String
    /// One sentence: what it does.
    public var sentence: String
    /// A line a person can type.
    public var example: String
    /// Group for `help "topic"`: strings, numbers, lists, records, files, data, model, rewards, training, plots, session.
    public var topic: String
    /// Each option's allowed values and what it does, one line each ("lr in [0, 1]: base
    /// learning rate"), from the library's option tables.
    public var options: [String] = []
}

public enum HelpTable {
    public static let topics = ["strings", "numbers", "lists", "records", "files", "data", "model", "rewards", "training", "plots", "session"]

    public static let entries: [HelpEntry] = [
        // MARK: strings
        .init(name: "len", signature: "len(x)", sentence: "Number of characters of a string, or elements of a list, record, range or data set.", example: "len(\"<think>\")  # 7", topic: "strings"),
        .init(name: "lower", signature: "lower(s)", sentence: "The string in lower case.", example: "lower(\"CT\")  # \"ct\"", topic: "strings"),
        .init(name: "upper", signature: "upper(s)", sentence: "The string in upper case.", example: "upper(\"a\")  # \"A\"", topic: "strings"),
        .init(name: "trim", signature: "trim(s)", sentence: "The string without leading and trailing whitespace and newlines.", example: "trim(\"  B \")  # \"B\"", topic: "strings"),
        .init(name: "split", signature: "split(s, sep)", sentence: "The pieces of s between occurrences of sep; without sep, the words between runs of whitespace.", example: "split(\"a,b\", \",\")  # [\"a\", \"b\"]", topic: "strings"),
        .init(name: "join", signature: "join(xs, sep)", sentence: "The elements of xs as text, with sep between them (default none).", example: "join([1, 2], \"-\")  # \"1-2\"", topic: "strings"),
        .init(name: "contains", signature: "contains(x, item)", sentence: "Whether a string contains a substring, a list an element, or a record a key.", example: "contains(c.text, \"<think>\")", topic: "strings"),
        .init(name: "starts_with", signature: "starts_with(s, prefix)", sentence: "Whether s begins with prefix.", example: "starts_with(c.text, \"<think>\")", topic: "strings"),
        .init(name: "ends_with", signature: "ends_with(s, suffix)", sentence: "Whether s ends with suffix.", example: "ends_with(c.text, \"</answer>\")", topic: "strings"),
        .init(name: "replace", signature: "replace(s, old, new)", sentence: "s with every occurrence of old replaced by new.", example: "replace(\"a-b\", \"-\", \" \")  # \"a b\"", topic: "strings"),
        .init(name: "find", signature: "find(s, pattern)", sentence: "The first text matching the regular expression (ICU syntax, . matches newlines), or nil.", example: "find(c.text, \"[A-D]\")", topic: "strings"),
        .init(name: "find_all", signature: "find_all(s, pattern)", sentence: "Every non-overlapping text matching the regular expression, in order.", example: "find_all(\"a1b22\", \"[0-9]+\")  # [\"1\", \"22\"]", topic: "strings"),
        .init(name: "match", signature: "match(s, pattern, full: false)", sentence: "The first match as {text, groups, start} with the capture groups, or nil; full: true must match all of s (Python's fullmatch).", example: "match(c.text, \"<answer>(.*?)</answer>\").groups[0]", topic: "strings"),
        .init(name: "str", signature: "str(x)", sentence: "x as the text print shows.", example: "str(3)  # \"3\"", topic: "strings"),
        .init(name: "repr", signature: "repr(x)", sentence: "x as the REPL echoes it (strings quoted).", example: "repr(\"a\")  # \"\\\"a\\\"\"", topic: "strings"),
        .init(name: "num", signature: "num(s)", sentence: "The number written in s, or nil when s is not a number.", example: "num(\"0.5\")  # 0.5", topic: "strings"),
        .init(name: "type", signature: "type(x)", sentence: "The type name of x: number, string, bool, nil, list, record, range, function or a host type.", example: "type([1])  # \"list\"", topic: "strings"),
        // MARK: numbers
        .init(name: "abs", signature: "abs(x)", sentence: "The absolute value.", example: "abs(-2)  # 2", topic: "numbers"),
        .init(name: "min", signature: "min(x, y, ...) or min(xs)", sentence: "The smallest of the numbers.", example: "min([3, 1, 2])  # 1", topic: "numbers"),
        .init(name: "max", signature: "max(x, y, ...) or max(xs)", sentence: "The largest of the numbers.", example: "max(0, x)", topic: "numbers"),
        .init(name: "round", signature: "round(x, digits)", sentence: "x rounded to digits decimal places (default 0), halves away from zero.", example: "round(2.345, 2)  # 2.35", topic: "numbers"),
        .init(name: "floor", signature: "floor(x)", sentence: "The largest whole number not above x.", example: "floor(2.7)  # 2", topic: "numbers"),
        .init(name: "ceil", signature: "ceil(x)", sentence: "The smallest whole number not below x.", example: "ceil(2.1)  # 3", topic: "numbers"),
        .init(name: "sqrt", signature: "sqrt(x)", sentence: "The square root of a non-negative number.", example: "sqrt(16)  # 4", topic: "numbers"),
        .init(name: "log", signature: "log(x)", sentence: "The natural logarithm of a positive number.", example: "log(exp(1))  # 1", topic: "numbers"),
        .init(name: "exp", signature: "exp(x)", sentence: "e to the power x.", example: "exp(0)  # 1", topic: "numbers"),
        .init(name: "pow", signature: "pow(x, y)", sentence: "x to the power y.", example: "pow(2, 10)  # 1024", topic: "numbers"),
        // MARK: lists
        .init(name: "map", signature: "map(xs, f)", sentence: "A list of f(x) for each element x.", example: "map([1, 2], fn(x) => x * 2)  # [2, 4]", topic: "lists"),
        .init(name: "filter", signature: "filter(xs, f)", sentence: "The elements x for which f(x) is true.", example: "filter(range(6), fn(x) => x % 2 == 0)", topic: "lists"),
        .init(name: "reduce", signature: "reduce(xs, initial, f)", sentence: "Folds xs into one value: f(f(initial, x0), x1) ...", example: "reduce([1, 2, 3], 0, fn(a, x) => a + x)  # 6", topic: "lists"),
        .init(name: "any", signature: "any(xs, f)", sentence: "Whether f(x) (or x itself, without f) is true for some element.", example: "any(rewards, fn(r) => r > 1)", topic: "lists"),
        .init(name: "all", signature: "all(xs, f)", sentence: "Whether f(x) (or x itself, without f) is true for every element.", example: "all([true, 1])  # true", topic: "lists"),
        .init(name: "sum", signature: "sum(xs)", sentence: "The sum of a list of numbers (0 when empty).", example: "sum([1, 2, 3])  # 6", topic: "lists"),
        .init(name: "mean", signature: "mean(xs)", sentence: "The arithmetic mean of a non-empty list of numbers.", example: "mean([1, 2, 3])  # 2", topic: "lists"),
        .init(name: "std", signature: "std(xs, population: false)", sentence: "The standard deviation with the n - 1 denominator, the one GRPO divides a group's advantages by and that g.std shows (as torch.std); population: true divides by n.", example: "std([1, 3])  # 1.414..., std([1, 3], population: true) is 1", topic: "lists"),
        .init(name: "sort", signature: "sort(xs, by: f, descending: false)", sentence: "The elements in ascending order (stable), by the key f(x) when given; NaN sorts last, in either order.", example: "sort(words, by: fn(w) => len(w))", topic: "lists"),
        .init(name: "zip", signature: "zip(xs, ys, ...)", sentence: "A list of [x, y] pairs, as long as the shortest list.", example: "zip([1, 2], [\"a\", \"b\"])  # [[1, \"a\"], [2, \"b\"]]", topic: "lists"),
        .init(name: "range", signature: "range(n) or range(start, end, step)", sentence: "The list of numbers from start (0) up to but not including end.", example: "range(3)  # [0, 1, 2]", topic: "lists"),
        .init(name: "take", signature: "take(xs, n)", sentence: "The first n elements of a list (or characters of a string).", example: "take([5, 6, 7], 2)  # [5, 6]", topic: "lists"),
        .init(name: "append", signature: "append(xs, x)", sentence: "A new list: xs followed by x.", example: "xs = append(xs, 4)", topic: "lists"),
        .init(name: "reverse", signature: "reverse(xs)", sentence: "The list (or string) in reverse order.", example: "reverse([1, 2])  # [2, 1]", topic: "lists"),
        // MARK: records
        .init(name: "keys", signature: "keys(r)", sentence: "The field names of a record, in order.", example: "keys({a: 1, b: 2})  # [\"a\", \"b\"]", topic: "records"),
        .init(name: "values", signature: "values(r)", sentence: "The field values of a record, in order.", example: "values({a: 1})  # [1]", topic: "records"),
        .init(name: "has", signature: "has(r, key)", sentence: "Whether a record (or host object) has the field.", example: "has(t.metrics, \"kl\")", topic: "records"),
        // MARK: files
        .init(name: "print", signature: "print(x, ...)", sentence: "Prints the values separated by spaces, then a newline.", example: "print(\"reward\", r)", topic: "files"),
        .init(name: "read_text", signature: "read_text(path)", sentence: "The contents of a UTF-8 text file (relative to the script's directory).", example: "let s = read_text(\"notes.txt\")", topic: "files"),
        .init(name: "write_text", signature: "write_text(path, text)", sentence: "Writes text to a file atomically, creating directories.", example: "write_text(\"out.txt\", \"done\")", topic: "files"),
        .init(name: "read_json", signature: "read_json(path)", sentence: "A JSON file as values (objects become records, key order kept).", example: "let cfg = read_json(\"cfg.json\")", topic: "files"),
        .init(name: "write_json", signature: "write_json(path, value)", sentence: "Writes numbers, strings, lists and records as pretty JSON; a sample, a group or a rollout as its data (completion rows: step, prompt, completion, each reward, reward, advantage).", example: "write_json(\"m.json\", t.history)", topic: "files"),
        .init(name: "write_jsonl", signature: "write_jsonl(path, rows)", sentence: "Writes one compact JSON line per element: a history, a list of records, or a rollout's completions with TRL's completion-table columns (step, prompt, completion, each reward, advantage).", example: "write_jsonl(\"rollout.jsonl\", t.last)", topic: "files"),
        .init(name: "write_csv", signature: "write_csv(path, rows)", sentence: "Writes CSV (RFC 4180) of a table, a history, a rollout's completions, or a record of histories with a run column first; text starting with = + - @ gets a leading ' so spreadsheets do not run it.", example: "write_csv(\"runs.csv\", {seed1: t1, seed2: t2})", topic: "files"),
        // MARK: data
        .init(name: "synth", signature: "synth(n: 1000, seed: 0, size: 64, to: \"medr1-data\", options: 4, noise: 1, contrast: 1, lesion_scale: 1, modalities: [...], types: [...])", sentence: "Generates SynthMed: procedurally drawn medical images (real PNG files) with OmniMedVQA-style questions, 8 modalities x 5 question types.", example: "let data = synth(n: 2000, seed: 7)", topic: "data"),
        .init(name: "load", signature: "load(path, image_root: dir, modality: \"CT\", question_type: \"Lesion Grading\", skip_bad: false)", sentence: "Loads an OmniMedVQA-layout folder (holding QA_information/) or a Med-R1 .json file (modality: and question_type: as for load_medr1).", example: "let d = load(\"OmniMedVQA\")", topic: "data"),
        .init(name: "load_omnimed", signature: "load_omnimed(path, skip_bad: false)", sentence: "Loads an OmniMedVQA folder; skip_bad: true skips broken records and says how many.", example: "let d = load_omnimed(\"OmniMedVQA\", skip_bad: true)", topic: "data"),
        .init(name: "load_medr1", signature: "load_medr1(path, image_root: dir, modality: \"CT\", question_type: \"Lesion Grading\", skip_bad: false)", sentence: "Loads a Med-R1 JSON file; image paths are relative to image_root (default: the file's folder). modality: and question_type: apply to records that name none (else they come from the file name).", example: "let d = load_medr1(\"train.json\")", topic: "data"),
        .init(name: "dataset.split", signature: "data.split(train: 0.8, seed: 1, stratified: false) or data.split(modalities: [...]) or data.split(types: [...])", sentence: "A seeded train/test split as {train, test}, or {selected, rest} by modality or question type.", example: "let tr = data.split(train: 0.8, seed: 1)", topic: "data"),
        .init(name: "dataset.filter", signature: "data.filter(f)", sentence: "The samples s for which f(s) is true.", example: "data.filter(fn(s) => s.modality == \"CT\")", topic: "data"),
        .init(name: "dataset.counts", signature: "data.counts()", sentence: "A table of sample counts by modality x question type, with totals.", example: "data.counts()", topic: "data"),
        .init(name: "dataset.take", signature: "data.take(n)", sentence: "The first n samples.", example: "data.take(16)", topic: "data"),
        .init(name: "dataset.shuffle", signature: "data.shuffle(seed: 1)", sentence: "The samples in a seeded random order.", example: "data.shuffle(seed: 2)", topic: "data"),
        .init(name: "dataset.tokenizer", signature: "data.tokenizer(vocab: 512, template: \"tiny\")", sentence: "A byte-level BPE tokenizer trained on the data set's prompts and answers.", example: "let tok = tr.train.tokenizer(vocab: 512)", topic: "data"),
        .init(name: "counts", signature: "counts(data)", sentence: "A table of sample counts by modality x question type.", example: "counts(data)", topic: "data"),
        .init(name: "show", signature: "show x", sentence: "Shows a sample (its image in the terminal, question, options, answer), a group of completions, or any value.", example: "show tr.train[0]", topic: "data"),
        // MARK: model
        .init(name: "model", signature: "model(tokenizer: tok, seed: 0, d_model: 128, n_heads: 4, vision_layers: 2, text_layers: 4, mlp_ratio: 4, image_size: 32, patch: 8, channels: 3, max_seq: 256)", sentence: "A fresh medr1-tiny vision-language model; vocab size comes from the tokenizer.", example: "let m = model(tokenizer: tok, seed: 1, d_model: 64)", topic: "model"),
        .init(name: "summary", signature: "summary(x)", sentence: "The full description of a model (parameters per part) or other object.", example: "print(summary(m))", topic: "model"),
        // MARK: rewards
        .init(name: "format", signature: "format(weight: 1)", sentence: "Med-R1's format reward: 1 when the whole completion is <think>...</think><answer>...</answer>.", example: "format().score(\"<think>x</think><answer>A</answer>\")  # 1", topic: "rewards"),
        .init(name: "accuracy", signature: "accuracy(weight: 1)", sentence: "1 when the <answer> names the right option (its text or letter, case- and space-insensitive).", example: "accuracy().score(\"<answer>yes</answer>\")", topic: "rewards"),
        .init(name: "format_nothink", signature: "format_nothink(weight: 1)", sentence: "The no-thinking format reward: the completion is only <answer>...</answer>.", example: "grpo(m, d, rewards: [format_nothink(), accuracy()])", topic: "rewards"),
        .init(name: "format_think_after", signature: "format_think_after(weight: 1)", sentence: "The think-after format reward: 1 when the whole completion is <answer>...</answer><think>...</think> (template \"thinkAfter\").", example: "grpo(m, d, rewards: [format_think_after(), accuracy()], template: \"thinkAfter\")", topic: "rewards"),
        .init(name: "format_strict", signature: "format_strict(weight: 1)", sentence: "A strict format reward: no nested tags and a non-blank answer.", example: "format_strict()", topic: "rewards"),
        .init(name: "reward", signature: "reward(fn, name: \"mine\", weight: 1)", sentence: "A reward from a function of a completion record {text, think, answer, sample, length, finish_reason} returning a number in [-1e6, 1e6].", example: "let brief = reward(fn(c) => if c.length < 20 then 0.1 else 0, name: \"brief\")", topic: "rewards"),
        .init(name: "reward.score", signature: "r.score(text, sample: s)", sentence: "The reward of a completion text (against sample s when given).", example: "format().score(\"<answer>B</answer>\")  # 0", topic: "rewards"),
        // MARK: training
        .init(name: "sampler", signature: "sampler(" + optionSignature(SamplerConfig.optionRules, SamplerConfig()) + ", seed: n)", sentence: "Sampling settings with their own seeded generator (top_k 0 and top_p 1 mean off).", example: "let sp = sampler(temperature: 0.7, max_tokens: 32, seed: 1)", topic: "training",
               options: optionLines(SamplerConfig.optionRules)),
        .init(name: "sample", signature: "sample(m, question, sampler, group: 8, " + optionSignature(SamplerConfig.optionRules, SamplerConfig()) + ", seed: n, rewards: [format(), accuracy()], weights|reward_weights: [1, 1], scale_rewards: \"group\"|\"batch\"|\"none\", template: \"tiny\", answer_style: \"text\")", sentence: "G completions of the model for one question (a group: text, each reward, advantage, length, finish reason, log-prob, token ids), or a rollout for a data set; g.std and the printed std are the group's reward std with the n - 1 denominator, the one its advantages are divided by (as TRL).", example: "show sample(m, test[0], group: 8)", topic: "training",
               options: optionLines(SamplerConfig.optionRules)),
        .init(name: "score", signature: "score(m, question, completion, " + optionSignature(SamplerConfig.optionRules, SamplerConfig()) + ", template: \"tiny\", answer_style: \"text\", eos: true)", sentence: "The per-token log-probs of a completion under m: text (its tokens, then <|eos|> unless eos: false), token ids, or a sampled completion record (g[0], its tokens); a record of tokens, logprobs, logprob (their sum) and text. They are computed as the sampler computes them, so a completion of sample(m, question, ...) scored with the same options gets exactly its own log-probs (one of a rollout of several prompts, whose prefixes were computed together, within float rounding, about 1e-7 relative).", example: "let g = sample(m, test[0], group: 4)\nprint(score(m, test[0], g[0]).logprobs == g[0].logprobs)", topic: "training",
               options: optionLines(SamplerConfig.optionRules)),
        .init(name: "sft", signature: "sft(m, data, " + optionSignature(SFTConfig.optionRules, SFTConfig()) + ", seed: n, template: \"tiny\", answer_style: \"text\")", sentence: "A supervised warm-up trainer (cross-entropy on the target reasoning and answer); it trains m in place. steps: is the horizon of schedule \"cosine\".", example: "let w = sft(m, train, lr: 1e-3, batch: 64)", topic: "training",
               options: optionLines(SFTConfig.optionRules)),
        .init(name: "grpo", signature: "grpo(m, data, rewards: [format(), accuracy()], weights|reward_weights: [1, 1], " + optionSignature(GRPOConfig.optionRules, GRPOConfig()) + ", seed: n, template: \"tiny\", answer_style: \"text\", reference: m0)", sentence: "A GRPO trainer: per step, G completions for each of `prompts` questions, rewards, group-normalised advantages, clipped policy loss with a KL to a frozen copy of m (or to reference:, a model of the same architecture and tokenizer); rewards may be functions written in the language, their values and weights in [-1e6, 1e6]; without rewards:, the template's format reward and accuracy.", example: "let t = grpo(m, train, rewards: [format(), accuracy(), brief], weights: [1, 1, 0.5], group: 8, lr: 1e-4)", topic: "training",
               options: optionLines(GRPOConfig.optionRules)),
        .init(name: "step", signature: "step t or step t, n (every: k, quiet: false) or step t, with: rollout", sentence: "Runs n training steps (default 1): a progress bar on a terminal (in Jupyter a display updated in place), a line of metrics every step (or about ten lines for long runs) and a summary; Ctrl-C stops after the current step, a second Ctrl-C aborts it and leaves the model as before. A step whose reward fails, or whose update would make the loss, the gradient norm, a weight or an optimiser moment non-finite, is not applied and is reported. `step t, with: r` trains a GRPO trainer one step on the rollout r as scored (e.g. rescore t.last with: [...]) without sampling: what the new rewards would have done to this very batch; t.last becomes r.", example: "step t, 50", topic: "training"),
        .init(name: "trainer.set", signature: "t.set(lr: 3e-4, beta: 0.02, ..., rewards: [...], weights|reward_weights: [...])", sentence: "Changes a trainer's settings between steps (any option but template and seed). A GRPO trainer takes new rewards (with weights:) or new weights for its rewards; its reference model and optimiser state stay, and a save records them.", example: "t.set(rewards: [format(), accuracy()], weights: [1, 0.5])", topic: "training"),
        .init(name: "rescore", signature: "rescore t.last with: [rewards...], weights: [...], scale_rewards: \"group\"|\"batch\"|\"none\"", sentence: "Recomputes the rewards and advantages of the last rollout under other rewards without sampling again, and shows each group before -> after.", example: "rescore t.last with: [format(), accuracy(), reward(fn(c) => if c.length < 12 then 0.2 else 0, name: \"short\")]", topic: "training"),
        .init(name: "eval", signature: "eval m, data, by: [\"modality\", \"question_type\"], " + optionSignature(Evaluator.optionRules, Evaluator.defaults) + ", template: \"tiny\", answer_style: \"text\", name: \"test\", seed: n", sentence: "Answers every question (greedy by default) and returns accuracy overall and by modality x question type plus format compliance; plot draws it as a heatmap.", example: "let e = eval m, test\nplot e, to: \"acc.png\"", topic: "training",
               options: optionLines(Evaluator.optionRules)),
        .init(name: "cross_modality", signature: "cross_modality([eval results])", sentence: "Med-R1's cross-modality table: one row per evaluated model (its name:), one column per test modality, plus the mean.", example: "cross_modality([eval(m_ct, test, name: \"CT\"), eval(m_mri, test, name: \"MRI\")])", topic: "training"),
        .init(name: "export", signature: "export t, \"dir\", test: data, steps: 500", sentence: "Writes a GRPO trainer as a folder for TRL's GRPOTrainer: data/train.jsonl (+ test.jsonl) in Med-R1's layout with the images, rewards.py (every reward translated to Python), train_grpo.py with the trainer's settings, accelerate / DeepSpeed configs, the last rollout and README.md; the folder is replaced as a whole.", example: "export t, \"runs/trl\", test: tr.test", topic: "training"),
        .init(name: "read_trl_log", signature: "read_trl_log(path)", sentence: "A TRL run's trainer_state.json (its log_history) as a history of metric records with medr1's names, to plot beside t.history.", example: "let real = read_trl_log(\"runs/grpo/trainer_state.json\")", topic: "training"),
        .init(name: "study", signature: "study(base, train, test, by: \"modality\", method: \"sft\", steps: 100, seeds: [1, 2, 3], template: \"tiny\", answer_style: \"text\", max_tokens: 48, and the options of sft or grpo)", sentence: "Med-R1's cross-modality (by: \"modality\") or cross-task (by: \"question_type\") study: a copy of base fine-tuned on each group alone (SFT or GRPO with accuracy and the template's format reward: format_nothink for \"noThinking\", format_think_after for \"thinkAfter\"), each evaluated on all of test; mean ± std over seeds per cell and the change against base; plot draws the heatmap (plot s, [\"change\"] the change).", example: "let s = study(base, train, test, by: \"modality\", method: \"grpo\", steps: 50, seeds: [1, 2, 3])\nplot s, to: \"study.png\"", topic: "training"),
        .init(name: "clock", signature: "clock()", sentence: "Wall seconds since the first call of clock() in this program, to time a script (the only builtin whose value depends on the machine: print it, do not train on it).", example: "let t0 = clock()\nstep w, 100\nprint(\"took\", round(clock() - t0, 1), \"s\")", topic: "training"),
        .init(name: "save", signature: "save t, \"runs/x.ckpt\" or save m, \"m.safetensors\"", sentence: "Saves a trainer's whole state (model, reference, optimiser moments, step, RNG, metrics) to a folder, replacing any previous version as a whole (a kill mid-save leaves the old or the new one), or a model and its tokenizer to a safetensors file.", example: "save t, \"runs/grpo-100\"", topic: "training"),
        .init(name: "resume", signature: "resume(path, data, rewards: [...], weights|reward_weights: [...])", sentence: "A trainer continuing exactly where save left it (same data, and the rewards it had when saved: same names, order and weights, t.set changes included); its model is t.model. To go on with other rewards, resume with these, then t.set(rewards: ...). Refuses a folder whose files come from different saves.", example: "let t = resume(\"runs/grpo-100\", train)", topic: "training"),
        .init(name: "load_model", signature: "load_model(path)", sentence: "A model and its tokenizer from a safetensors file written by save m, path.", example: "let m = load_model(\"m.safetensors\")", topic: "model"),
        // MARK: plots
        .init(name: "plot", signature: "plot(data, keys, to: \"file.png\", title: \"...\", smooth: n, width: 800, height: 500, band: false)", sentence: "Plots numbers, metric records against step (raw and smoothed), or a table as a heatmap; to the terminal, a notebook, or a PNG/SVG file. Several runs (trainers or histories in a list, or in a record whose keys name them) share one plot with a legend; band: true draws each metric's mean over the runs with a shaded band of one standard deviation (n - 1).", example: "plot {seed1: t1, seed2: t2, seed3: t3}, [\"reward\"], band: true, to: \"seeds.png\"", topic: "plots"),
        .init(name: "band", signature: "band(runs, \"metric\")", sentence: "Per step, the mean, sample standard deviation (n - 1) and number of runs of one metric over several runs.", example: "band([t1, t2, t3], \"reward\")", topic: "plots"),
        .init(name: "compare", signature: "compare(evals)", sentence: "Eval results (a list, or a record whose keys name the columns) side by side: accuracy, format, accuracy by modality and by question type, one column per run, then mean and std (n - 1) when there are two or more.", example: "show compare({seed1: eval(m1, test), seed2: eval(m2, test)})", topic: "training"),
        // MARK: session
        .init(name: "help", signature: "help(x) or help \"topic\"", sentence: "Help on a builtin, a value or a topic; help() lists the topics.", example: "help \"rewards\"", topic: "session"),
    ]

    /// "group: 8, prompts: 16, ..., loss: \"grpo\"|\"bnpo\"|\"dr_grpo\", ...": every option of a
    /// table with its value in `defaults` (the library's default config), `n` where it has
    /// none (the cosine horizon of a constant schedule).
    static func optionSignature<C>(_ rules: [OptionRule<C>], _ defaults: C) -> String {
        rules.map { r in
            let shown: String
            switch (r.optionValue(in: defaults), r.kind) {
            case (nil, _): shown = "n"
            case (.number(let x)?, _): shown = defaultNumber(x)
            case (.flag(let b)?, _): shown = b ? "true" : "false"
            case (.word(let w)?, .word(let words)): shown = ([w] + words.filter { $0 != w }).map { "\"\($0)\"" }.joined(separator: "|")
            case (.word(let w)?, _): shown = "\"\(w)\""
            case (.strings(let ws)?, _): shown = OptionValue.strings(ws).description
            }
            return r.names.joined(separator: "|") + ": \(shown)"
        }.joined(separator: ", ")
    }

    /// A default as a script would write it: 1e-4 rather than 0.0001.
    static func defaultNumber(_ x: Double) -> String {
        guard x != 0 && abs(x) < 1e-2 && x.isFinite else { return OptionRange.format(x) }
        for digits in 0...16 {
            let s = String(format: "%.\(digits)e", x)
            guard Double(s) == x, let e = s.firstIndex(of: "e") else { continue }
            let exponent = Int(s[s.index(after: e)...])!
            return String(s[..<e]) + "e\(exponent)"
        }
        return OptionRange.format(x)
    }

    /// One line per option of a table: "lr in [0, 1]: base learning rate (TRL: learning_rate)".
    static func optionLines<C>(_ rules: [OptionRule<C>]) -> [String] {
        rules.map { r in
            "\(r.keyword) " + (r.range.map { "in \($0)" } ?? r.kindText) + ": \(r.help)"
                + (r.names.count > 1 ? " (TRL: \(r.names[1]))" : "")
        }
    }

    public static var all: [HelpEntry] { entries }

    public static func entry(_ name: String) -> HelpEntry? { all.first { $0.name == name } }

    /// The text `help` prints for a name or topic; nil if neither.
    public static func text(for topic: String?) -> String? {
        guard let topic, !topic.isEmpty else {
            return "Help topics: " + topics.joined(separator: ", ")
                + "\nType help \"topic\" for its functions, or help(name) for one function."
        }
        if let e = entry(topic) {
            let options = e.options.isEmpty ? "" : "\n  allowed values:" + e.options.map { "\n    " + $0 }.joined()
            return "\(e.signature)\n  \(e.sentence)" + options + "\n  example: \(e.example)"
        }
        if topics.contains(topic) {
            let es = all.filter { $0.topic == topic }
            let width = es.map(\.signature.count).max() ?? 0
            return "\(topic):\n" + es.map { "  " + $0.signature.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.sentence }.joined(separator: "\n")
        }
        return nil
    }

    /// docs/reference.md: every entry grouped by topic.
    public static func markdown() -> String {
        var out = "# medr1 language reference: builtins and bindings\n\nGenerated from Sources/Runtime/Session/HelpTable.swift.\n"
        for t in topics {
            let es = all.filter { $0.topic == t }
            if es.isEmpty { continue }
            out += "\n## \(t)\n\n"
            for e in es {
                out += "- `\(e.signature)`: \(e.sentence) Example: `\(e.example)`\n"
                for o in e.options { out += "  - \(o)\n" }
            }
        }
        return out
    }
}
