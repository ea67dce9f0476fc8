// The tokenizer's JSON form: what checkpoints store under `__metadata__.tokenizer`.
//
//   {"format":"medr1-byte-bpe","version":1,
//    "specials":["<|pad|>",...],            // must be Tokenizer.specialTokens, in order
//    "merges":[[left,right],...]}           // rank order; ids as in Tokenizer.swift
//
// Bytes and specials are implied by the layout, so the file is only the merges:
// a few kilobytes for a 512-token vocabulary.
import Foundation

/// A tokenizer JSON that cannot be loaded; the message says which field and why.
public struct TokenizerError: Error, CustomStringConvertible, LocalizedError, Equatable {
    public let message: String
    /// Control characters (from the JSON text) are escaped.
    public init(_ message: String) { self.message = JSONLiteral.escapingControls(message) }
    public var description: String { message }
    public var errorDescription: String? { message }
}

extension Tokenizer {
    public static let jsonFormat = "medr1-byte-bpe"
    public static let jsonVersion = 1
    /// Most merges a tokenizer JSON may hold (the vocabulary then reaches ModelConfig.maxVocabSize).
    public static let maxMerges = ModelConfig.maxVocabSize - firstMergeId
    /// Longest token (bytes) a merge may make; merges whose tokens double in length
    /// would otherwise reach 2^merges bytes.
    public static let maxTokenBytes = 4096

    /// Compact JSON with a fixed key order, so equal tokenizers give equal text.
    public func toJSON() -> String {
        let specials = Tokenizer.specialTokens.map { JSONLiteral.string($0) }.joined(separator: ",")
        let ms = merges.map { "[\($0.left),\($0.right)]" }.joined(separator: ",")
        return "{\"format\":\"\(Tokenizer.jsonFormat)\",\"version\":\(Tokenizer.jsonVersion),"
            + "\"specials\":[\(specials)],\"merges\":[\(ms)]}"
    }

    /// Loads the JSON written by `toJSON()`. Throws a `TokenizerError` naming the
    /// field at fault: not JSON (with line and column), wrong format/version, special
    /// tokens that differ, more than `maxMerges` merges, a merge that refers to an id
    /// not yet defined or that makes a token longer than `maxTokenBytes`.
    public convenience init(json: String) throws {
        let object: Any
        do {
            object = try FileInput.jsonObject(Data(json.utf8))
        } catch let e as FileInput.JSONSyntaxError {
            let head = json.prefix(40)
            throw TokenizerError("tokenizer JSON is not valid JSON (starts with \"\(head)\"): "
                + "\(e.description); expected the text a saved model's tokenizer holds")
        }
        guard let dict = object as? [String: Any] else {
            throw TokenizerError("tokenizer JSON must be an object with fields format, version, specials, merges")
        }
        guard let format = dict["format"] as? String else {
            throw TokenizerError("tokenizer JSON: field 'format' is missing or not a string (expected \"\(Tokenizer.jsonFormat)\")")
        }
        guard format == Tokenizer.jsonFormat else {
            throw TokenizerError("tokenizer JSON: field 'format' is \"\(format)\", expected \"\(Tokenizer.jsonFormat)\"")
        }
        guard let version = dict["version"] as? Int, version == Tokenizer.jsonVersion else {
            throw TokenizerError("tokenizer JSON: field 'version' is \(dict["version"].map { "\($0)" } ?? "missing"), "
                + "this build reads version \(Tokenizer.jsonVersion)")
        }
        guard let specials = dict["specials"] as? [String] else {
            throw TokenizerError("tokenizer JSON: field 'specials' is missing or not a list of strings")
        }
        guard specials == Tokenizer.specialTokens else {
            throw TokenizerError("tokenizer JSON: field 'specials' is \(specials), expected \(Tokenizer.specialTokens) in this order")
        }
        guard let rawMerges = dict["merges"] as? [Any] else {
            throw TokenizerError("tokenizer JSON: field 'merges' is missing or not a list")
        }
        guard rawMerges.count <= Tokenizer.maxMerges else {
            throw TokenizerError("tokenizer JSON: field 'merges' holds \(rawMerges.count) merges, more than the \(Tokenizer.maxMerges) allowed")
        }
        var merges: [(left: Int, right: Int)] = []
        merges.reserveCapacity(rawMerges.count)
        // Byte length of every id's token (specials count as their spelling).
        var length = Tokenizer.specialTokens.map { $0.utf8.count } + Array(repeating: 1, count: 256)
        length.reserveCapacity(Tokenizer.firstMergeId + rawMerges.count)
        for (r, raw) in rawMerges.enumerated() {
            guard let pair = raw as? [Any], pair.count == 2,
                  let a = pair[0] as? Int, let b = pair[1] as? Int else {
                throw TokenizerError("tokenizer JSON: merges[\(r)] must be a pair of integer ids [left, right]")
            }
            let defined = Tokenizer.firstMergeId + r
            guard a >= Tokenizer.byteOffset, b >= Tokenizer.byteOffset, a < defined, b < defined else {
                throw TokenizerError("tokenizer JSON: merges[\(r)] = [\(a), \(b)] refers to an id outside "
                    + "\(Tokenizer.byteOffset)..<\(defined) (bytes and earlier merges); the file is corrupt")
            }
            let made = length[a] + length[b]
            guard made <= Tokenizer.maxTokenBytes else {
                throw TokenizerError("tokenizer JSON: merges[\(r)] = [\(a), \(b)] makes a token of \(made) bytes, "
                    + "more than the \(Tokenizer.maxTokenBytes) allowed; the file is corrupt")
            }
            length.append(made)
            merges.append((a, b))
        }
        self.init(merges: merges)
    }
}

