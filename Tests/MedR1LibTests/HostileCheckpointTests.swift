import Foundation
import XCTest
import TestSupport
@testable import MedR1Lib

/// Safetensors files, model configs and tokenizer JSON that claim huge sizes or
/// hold non-finite numbers: each is a thrown error naming the file and field.
final class HostileCheckpointTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try TestSupport.temporaryDirectory("hostile-ckpt") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return "\(error)" }
    }

    func rawFile(_ url: URL, header: String, dataBytes: Int) throws {
        try CoreCheckpointTests.rawFile(url, header: header, dataBytes: dataBytes)
    }

    // MARK: - Safetensors

    func testShapeWhoseSizeOverflowsIsAnError() throws {
        let url = dir.appendingPathComponent("overflow.safetensors")
        try rawFile(url, header: #"{"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}}"#, dataBytes: 4)
        XCTAssertEqual(message { _ = try SafeTensors.read(url) },
                       "\(url.path): tensor 'w': shape [1099511627776, 1099511627776] holds too many values to address: the file is corrupted")
        try rawFile(url, header: #"{"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}"#, dataBytes: 4)
        XCTAssertEqual(message { _ = try SafeTensors.read(url) },
                       "\(url.path): tensor 'w': shape [1, 1, 1, 1, 1, 1, 1, 1, 1] has 9 dimensions, more than the 8 allowed")
    }

    func testNonFiniteWeightsAreRefusedNamingTheTensor() throws {
        let url = dir.appendingPathComponent("nan.safetensors")
        try SafeTensors.write(tensors: [NamedTensor(name: "ok", shape: [2], data: [1, 2]),
                                        NamedTensor(name: "bad", shape: [3], data: [0, .infinity, .nan])],
                              metadata: [:], to: url)
        XCTAssertEqual(message { _ = try SafeTensors.read(url) },
                       "\(url.path): tensor 'bad' holds a non-finite value (inf) at index 1: the weights diverged or the file is corrupted")
        try SafeTensors.write(tensors: [NamedTensor(name: "all", shape: [2], data: [.nan, .nan])], metadata: [:], to: url)
        XCTAssertEqual(message { _ = try SafeTensors.read(url) },
                       "\(url.path): tensor 'all' holds a non-finite value (nan) at index 0: the weights diverged or the file is corrupted")
    }

    func testHeaderLengthIsBounded() throws {
        // A sparse file large enough to hold the claimed header.
        let url = dir.appendingPathComponent("bighead.safetensors")
        let n = SafeTensors.maxHeaderBytes + 8
        var d = Data()
        withUnsafeBytes(of: UInt64(n).littleEndian) { d.append(contentsOf: $0) }
        try PNGHostileFileTests.sparseFile(url, starting: d, size: 8 + n + 8)
        XCTAssertEqual(message { _ = try SafeTensors.read(url) },
                       "\(url.path): header length \(n) is more than the \(SafeTensors.maxHeaderBytes) bytes allowed: "
                       + "the file is corrupted or not a medr1 checkpoint")
    }

    func testHeaderJSONErrorGivesLineAndColumn() throws {
        let url = dir.appendingPathComponent("badjson.safetensors")
        try rawFile(url, header: "{\"__metadata__\": {\"a\": \"b\"},\n \"w\": {\"dtype\": F32}}", dataBytes: 0)
        XCTAssertEqual(message { _ = try SafeTensors.read(url) },
                       "\(url.path): header is not valid JSON (header line 2, column 17: invalid value): the file is corrupted")
    }

    func testOversizedFileIsRefusedBeforeReading() throws {
        let url = dir.appendingPathComponent("big.safetensors")
        try PNGHostileFileTests.sparseFile(url, starting: Data(), size: FileInput.maxSafeTensorsBytes + 1)
        XCTAssertEqual(message { _ = try SafeTensors.read(url) },
                       "\(url.path): the file is 2214592521 bytes, more than the 2214592520 bytes allowed for a safetensors file")
    }

    func testFIFOIsRefused() throws {
        let url = dir.appendingPathComponent("pipe.safetensors")
        XCTAssertEqual(mkfifo(url.path, 0o600), 0)
        XCTAssertEqual(message { _ = try SafeTensors.read(url) },
                       "\(url.path): the file is not a regular file (it is a FIFO): give the path of a file")
    }

    // MARK: - Model config from metadata

    func testCheckpointWithHugeConfigIsAnErrorNamingTheField() throws {
        let url = dir.appendingPathComponent("huge.safetensors")
        var md = ModelConfig().metadata
        md["vocab_size"] = "1000000000000000"
        md["tokenizer"] = "{}"
        try SafeTensors.write(tensors: [], metadata: md, to: url)
        XCTAssertEqual(message { _ = try Checkpoint.load(from: url) },
                       "\(url.path): config field vocab_size is 1000000000000000: it must be at most 1048576")
    }

    func configError(_ changes: [String: String]) -> String {
        var md = ModelConfig().metadata
        for (k, v) in changes { md[k] = v }
        return message { _ = try ModelConfig(metadata: md, source: "m.safetensors") }
    }

    func testConfigSizesAreBounded() {
        XCTAssertEqual(configError(["vocab_size": "1000000000000000"]),
                       "m.safetensors: config field vocab_size is 1000000000000000: it must be at most 1048576")
        XCTAssertEqual(configError(["text_layers": "100000000"]),
                       "m.safetensors: config field text_layers is 100000000: it must be at most 256")
        XCTAssertEqual(configError(["d_model": "8192", "n_heads": "4"]),
                       "m.safetensors: config field d_model is 8192: it must be at most 4096")
        XCTAssertEqual(configError(["max_seq": "100000"]),
                       "m.safetensors: config field max_seq is 100000: it must be at most 65536")
        XCTAssertEqual(configError(["n_heads": "512", "d_model": "1024"]),
                       "m.safetensors: config field n_heads is 512: it must be at most 256")
        XCTAssertEqual(configError(["image_size": "4096", "patch": "8"]),
                       "m.safetensors: config field image_size is 4096: it must be at most 1024")
        XCTAssertEqual(configError(["mlp_ratio": "1000"]),
                       "m.safetensors: config field mlp_ratio is 1000: it must be at most 16")
        // Each field within its limit, the whole too big: 2^20 * 4096 embedding weights alone.
        XCTAssertEqual(configError(["vocab_size": "1048576", "d_model": "4096"]),
                       "m.safetensors: config has 5504888832 parameters, more than the 268435456 allowed: "
                       + "lower d_model, the layer counts, vocab_size or max_seq")
        XCTAssertEqual(configError([:]), "no error")
        // The count the limit uses is the model's own.
        for c in [ModelConfig(), CoreModelTests.tiny] {
            XCTAssertEqual(c.parameterCount, try MedR1Model(config: c, seed: 1).parameterCount)
        }
    }

    func testConfigValueFromTheFileIsEscaped() {
        XCTAssertEqual(configError(["d_model": "\u{1B}[2J"]), "m.safetensors: metadata field 'd_model' is '\\u001b[2J', not an integer")
    }

    func testConfigNormEpsMustBeFinite() {
        let expected = { (v: String) in
            "m.safetensors: config field norm_eps is \(v): it must be a finite number above 0 and at most 1.0" }
        XCTAssertEqual(configError(["norm_eps": "inf"]), expected("inf"))
        XCTAssertEqual(configError(["norm_eps": "1e50"]), expected("inf"))
        XCTAssertEqual(configError(["norm_eps": "nan"]), expected("nan"))
        XCTAssertEqual(configError(["norm_eps": "2"]), expected("2.0"))
    }

    // MARK: - Tokenizer JSON

    static let specials = Tokenizer.specialTokens.map { "\"\($0)\"" }.joined(separator: ",")

    func tokenizerError(_ merges: String) -> String {
        message { _ = try Tokenizer(json: #"{"format":"medr1-byte-bpe","version":1,"specials":[\#(Self.specials)],"merges":\#(merges)}"#) }
    }

    func testMergesThatDoubleTokenLengthAreRefused() {
        // merge r joins the previous token with itself: lengths 2, 4, 8, ... (2^41 after 41 merges).
        var pairs = ["[7,7]"]
        for r in 1..<41 { pairs.append("[\(Tokenizer.firstMergeId + r - 1),\(Tokenizer.firstMergeId + r - 1)]") }
        XCTAssertEqual(tokenizerError("[" + pairs.joined(separator: ",") + "]"),
                       "tokenizer JSON: merges[12] = [274, 274] makes a token of 8192 bytes, more than the 4096 allowed; the file is corrupt")
        XCTAssertEqual(tokenizerError("[" + pairs.prefix(12).joined(separator: ",") + "]"), "no error")
    }

    func testTrainingNeverMakesATokenTheLoaderRefuses() throws {
        // One 6,000-byte word: unbounded, its merges would reach 4096 + 1024 + ... bytes.
        let word = String(repeating: "ab", count: 3000)
        let t = Tokenizer.train(corpus: [word, word, word], vocabSize: Tokenizer.firstMergeId + 40)
        XCTAssertLessThanOrEqual(t.tokenBytes.map(\.count).max()!, Tokenizer.maxTokenBytes)
        XCTAssertEqual(t.tokenBytes.map(\.count).max()!, 4096)
        let back = try Tokenizer(json: t.toJSON())
        XCTAssertEqual(back.encode(word), t.encode(word))
        XCTAssertEqual(t.decode(t.encode(word)), word)
    }

    func testMergeCountIsBounded() {
        let n = Tokenizer.maxMerges + 1
        let merges = "[" + Array(repeating: "[7,7]", count: n).joined(separator: ",") + "]"
        XCTAssertEqual(tokenizerError(merges),
                       "tokenizer JSON: field 'merges' holds \(n) merges, more than the \(Tokenizer.maxMerges) allowed")
    }

    func testTokenizerJSONErrorGivesLineAndColumn() {
        XCTAssertEqual(message { _ = try Tokenizer(json: "{\"format\":\n  \"medr1-byte-bpe\",\n \"version\": x}") },
                       "tokenizer JSON is not valid JSON (starts with \"{\"format\":\\n  \"medr1-byte-bpe\",\\n \"version\"): "
                       + "line 3, column 13: invalid value; expected the text a saved model's tokenizer holds")
    }
}
