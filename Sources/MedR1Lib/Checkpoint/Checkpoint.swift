import Foundation

// A whole medr1-tiny model in one safetensors file: the spec's tensor names,
// and `__metadata__` with every config field (snake_case, as a string) plus
// the tokenizer's JSON under "tokenizer".

public enum Checkpoint {
    /// Saves weights, config and tokenizer atomically. `extraMetadata` is
    /// stored too (config fields and "tokenizer" take precedence).
    public static func save(model: MedR1Model, tokenizerJSON: String, extraMetadata: [String: String] = [:],
                            to url: URL) throws {
        let (tensors, md) = contents(model: model, tokenizerJSON: tokenizerJSON, extraMetadata: extraMetadata)
        try SafeTensors.write(tensors: tensors, metadata: md, to: url)
    }

    /// The bytes `save` would write (`path` names the file in errors).
    public static func encode(model: MedR1Model, tokenizerJSON: String, extraMetadata: [String: String] = [:],
                              path: String) throws -> Data {
        let (tensors, md) = contents(model: model, tokenizerJSON: tokenizerJSON, extraMetadata: extraMetadata)
        return try SafeTensors.encode(tensors: tensors, metadata: md, path: path)
    }

    private static func contents(model: MedR1Model, tokenizerJSON: String,
                                 extraMetadata: [String: String]) -> ([NamedTensor], [String: String]) {
        var md = extraMetadata
        for (k, v) in model.config.metadata { md[k] = v }
        md["tokenizer"] = tokenizerJSON
        return (model.parameters.map { NamedTensor(name: $0.name, shape: $0.shape, data: Array($0.value)) }, md)
    }

    /// Loads a model saved by `save` (or any file with the spec's names and
    /// metadata). Checks the config fields, the tokenizer entry, and that the
    /// tensors are exactly the model's, with the config's shapes.
    public static func load(from url: URL) throws -> (model: MedR1Model, tokenizerJSON: String, metadata: [String: String]) {
        try load(SafeTensors.read(url), path: url.path)
    }

    /// `load` of a file's decoded contents; `path` names it in errors.
    public static func load(_ contents: SafeTensors.Contents, path: String) throws -> (model: MedR1Model, tokenizerJSON: String, metadata: [String: String]) {
        let config: ModelConfig
        do { config = try ModelConfig(metadata: contents.metadata, source: path) } catch let e as ModelError {
            throw CheckpointError(file: path, String(e.message.dropFirst(path.count + 2)))
        }
        guard let tok = contents.metadata["tokenizer"] else {
            throw CheckpointError(file: path, "metadata field 'tokenizer' is missing: save the model with its tokenizer")
        }
        let model = try MedR1Model(config: config, initialise: false, seed: 0)
        var byName: [String: NamedTensor] = [:]
        for t in contents.tensors { byName[t.name] = t }
        for p in model.parameters {
            guard let t = byName.removeValue(forKey: p.name) else {
                throw CheckpointError(file: path, "tensor '\(p.name)' is missing (the config's model needs it)")
            }
            guard t.shape == p.shape else {
                throw CheckpointError(file: path, "tensor '\(p.name)' has shape \(t.shape), the config (d_model \(config.dModel), vocab_size \(config.vocabSize), max_seq \(config.maxSeq)) needs \(p.shape)")
            }
            t.data.withUnsafeBufferPointer { p.value.baseAddress!.update(from: $0.baseAddress!, count: p.count) }
        }
        if let extra = byName.keys.sorted().first {
            throw CheckpointError(file: path, "unexpected tensor '\(extra)': it is not a medr1-tiny weight for this config (vision_layers \(config.visionLayers), text_layers \(config.textLayers))")
        }
        return (model, tok, contents.metadata)
    }
}
