// Checks shared by the SFT and GRPO trainers: an optimiser update is applied only
// when the loss, the gradient norm and every new weight and AdamW moment are
// finite (otherwise the step is reported and nothing changes), and the model
// a trainer is built with fits its tokenizer and its reference.
import Foundation

/// Applies one AdamW update at `lr`, or throws `RLError.nonFiniteUpdate` (changing
/// nothing) when the loss, the gradient norm, or a weight or moment after the update
/// would not be finite.
func checkedUpdate(_ model: MedR1Model, _ optimizer: AdamW, mode: String, step: Int, loss: Double,
                   gradNorm: Float, lr: Double) throws {
    func fail(_ what: String) -> RLError {
        .nonFiniteUpdate("\(mode) step \(step) was not applied: \(what); the model, the optimiser and the data "
                         + "order are as before it (lr \(OptionRange.format(lr))). Lower lr, check the rewards, "
                         + "or save and inspect the model.")
    }
    guard loss.isFinite else { throw fail("the loss is \(OptionRange.format(loss))") }
    guard gradNorm.isFinite else { throw fail("the gradient norm is \(OptionRange.format(Double(gradNorm)))") }
    if let bad = optimizer.nonFiniteAfterStep(model, lr: Float(lr)) {
        throw fail("the update would make the \(bad.what) of \(parameterName(model, bad.index)) non-finite")
    }
    optimizer.step(model, lr: Float(lr))
}

/// "text.blocks.0.attn.q.weight[12]": a flat parameter index by tensor name and offset.
func parameterName(_ model: MedR1Model, _ index: Int) -> String {
    guard let p = model.parameters.first(where: { index >= $0.offset && index < $0.offset + $0.count }) else {
        return "parameter value \(index)"
    }
    return "\(p.name)[\(index - p.offset)]"
}

/// What one update of a step with several updates (GRPO's num_iterations) changed: the
/// weights and the optimiser's state, to undo when a later update of the same step fails.
/// Without an optimiser, the weights alone (a reference moved by a sync).
struct UpdateUndo {
    let values: [Float], m: [Float], v: [Float], steps: Int

    init(_ model: MedR1Model, _ optimizer: AdamW?) {
        values = Array(UnsafeBufferPointer(start: model.values.pointer, count: model.parameterCount))
        m = optimizer?.m ?? []; v = optimizer?.v ?? []; steps = optimizer?.stepCount ?? 0
    }

    func restore(_ model: MedR1Model, _ optimizer: AdamW?) {
        values.withUnsafeBufferPointer { model.values.pointer.update(from: $0.baseAddress!, count: $0.count) }
        guard let optimizer else { return }
        optimizer.m = m; optimizer.v = v; optimizer.stepCount = steps
    }
}

/// The tokenizer's ids must all be rows of the model's embedding.
func checkVocabulary(_ tokenizer: Tokenizer, _ model: MedR1Model, owner: String) throws {
    guard tokenizer.vocabSize <= model.config.vocabSize else {
        throw RLError.invalidOption("\(owner): the tokenizer has \(tokenizer.vocabSize) tokens but the model's vocab_size is "
                                    + "\(model.config.vocabSize); make the model with this tokenizer")
    }
}

extension ModelConfig {
    /// "d_model: reference 64, policy 128": the fields (snake_case, as in checkpoints) where a
    /// reference's config differs from its policy's.
    static func differences(reference a: ModelConfig, policy b: ModelConfig) -> [String] {
        let x = a.metadata, y = b.metadata
        return ModelConfig.metadataKeys.filter { x[$0] != y[$0] }
            .map { "\($0): reference \(x[$0] ?? "-"), policy \(y[$0] ?? "-")" }
    }
}
