import Foundation
import XCTest
import TestSupport
@testable import MedR1Lib

/// Checkpoints: bit-identical round trip, atomic replace, and the exact
/// message for each kind of broken file.
final class CoreCheckpointTests: XCTestCase {
    let tokenizer = "{\"merges\":[[\"a\",\"b\"]],\"note\":\"é 中文 🙂 \\\\ \\n\"}"

    func makeFile(_ dir: URL, seed: UInt64 = 1) throws -> (URL, MedR1Model) {
        let m = try MedR1Model(config: CoreModelTests.tiny, seed: seed)
        let url = dir.appendingPathComponent("tiny.safetensors")
        try Checkpoint.save(model: m, tokenizerJSON: tokenizer, extraMetadata: ["step": "12", "d_model": "999"], to: url)
        return (url, m)
    }

    func testRoundTripIsBitIdentical() throws {
        let dir = try TestSupport.temporaryDirectory()
        let (url, m) = try makeFile(dir)
        let (loaded, tok, md) = try Checkpoint.load(from: url)
        XCTAssertEqual(loaded.config, m.config)
        XCTAssertEqual(loaded.flatValues.map(\.bitPattern), m.flatValues.map(\.bitPattern))
        XCTAssertEqual(tok, tokenizer)
        XCTAssertEqual(md["d_model"], "16", "config fields win over extra metadata")
        XCTAssertEqual(md["step"], "12")
        XCTAssertEqual(md["norm_eps"], "1e-05")
        let url2 = dir.appendingPathComponent("again.safetensors")
        try Checkpoint.save(model: loaded, tokenizerJSON: tok, extraMetadata: ["step": "12"], to: url2)
        XCTAssertEqual(try Data(contentsOf: url), try Data(contentsOf: url2), "re-saving gives the same bytes")
        // Header layout: 8-byte length, JSON padded to a multiple of 8.
        let data = try Data(contentsOf: url)
        let n = data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        XCTAssertEqual(n % 8, 0)
        XCTAssertEqual(data[8], UInt8(ascii: "{"))
    }

    func testSaveReplacesAtomicallyAndLeavesNoTemporaryFiles() throws {
        let dir = try TestSupport.temporaryDirectory()
        let (url, _) = try makeFile(dir, seed: 1)
        let m2 = try MedR1Model(config: CoreModelTests.tiny, seed: 2)
        try Checkpoint.save(model: m2, tokenizerJSON: "{}", to: url)
        XCTAssertEqual(try Checkpoint.load(from: url).model.flatValues, m2.flatValues)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["tiny.safetensors"])
        let bad = dir.appendingPathComponent("no-such-dir/x.safetensors")
        XCTAssertThrowsError(try Checkpoint.save(model: m2, tokenizerJSON: "{}", to: bad)) {
            XCTAssertTrue("\($0)".hasPrefix("\(bad.path): cannot write ("), "\($0)")
        }
    }

    func expectError(_ url: URL, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Checkpoint.load(from: url), file: file, line: line) {
            XCTAssertEqual("\($0)", "\(url.path): \(message)", file: file, line: line)
        }
    }

    func testTruncatedAndCorruptedFiles() throws {
        let dir = try TestSupport.temporaryDirectory()
        let (url, _) = try makeFile(dir)
        let data = try Data(contentsOf: url)
        let n = Int(data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let dataSize = data.count - 8 - n

        try data.prefix(5).write(to: url)
        expectError(url, "file is 5 bytes, too short for the 8-byte header length: the file is truncated or not a safetensors file")
        try data.prefix(100).write(to: url)
        expectError(url, "header length \(n) exceeds the 92 bytes after the length field: the file is truncated or not a safetensors file")
        try data.prefix(data.count - 10).write(to: url)
        expectError(url, "tensor 'text.norm.weight': data ends at byte \(dataSize), past the end of the data section (\(dataSize - 10) bytes): the file is truncated")
        var corrupt = data
        corrupt[8] = UInt8(ascii: "x")
        try corrupt.write(to: url)
        expectError(url, "header is not valid JSON (header line 1, column 1: invalid value): the file is corrupted")
    }

    /// Writes a file with a hand-made header (for dtype and offset errors).
    func rawFile(_ url: URL, header: String, dataBytes: Int) throws {
        try Self.rawFile(url, header: header, dataBytes: dataBytes)
    }

    /// A safetensors file with `header` as its JSON and `dataBytes` zero bytes of data.
    static func rawFile(_ url: URL, header: String, dataBytes: Int) throws {
        var d = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { d.append(contentsOf: $0) }
        d.append(contentsOf: Array(header.utf8))
        d.append(Data(count: dataBytes))
        try d.write(to: url)
    }

    func testWrongDtypeOffsetsShapesAndNames() throws {
        let dir = try TestSupport.temporaryDirectory()
        let url = dir.appendingPathComponent("bad.safetensors")
        try rawFile(url, header: "{\"w\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", dataBytes: 4)
        expectError(url, "tensor 'w' has dtype F16: only F32 is supported (convert the weights to float32)")
        try rawFile(url, header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", dataBytes: 8)
        expectError(url, "tensor 'w': data_offsets [0, 8] hold 8 bytes, shape [3] needs 12")
        try rawFile(url, header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", dataBytes: 8)
        expectError(url, "tensors 'a' and 'b' overlap in the data section: the file is corrupted")
        try rawFile(url, header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", dataBytes: 4)
        expectError(url, "metadata field 'image_size' is missing: every config field must be in __metadata__")

        // Model tensors with one shape wrong / one missing / one extra.
        let m = try MedR1Model(config: CoreModelTests.tiny, seed: 1)
        var md = m.config.metadata
        md["tokenizer"] = "{}"
        var tensors = m.parameters.map { NamedTensor(name: $0.name, shape: $0.shape, data: Array($0.value)) }
        let posIndex = tensors.firstIndex { $0.name == "text.pos" }!
        let good = tensors[posIndex]
        tensors[posIndex] = NamedTensor(name: "text.pos", shape: [8, 32], data: good.data)
        try SafeTensors.write(tensors: tensors, metadata: md, to: url)
        expectError(url, "tensor 'text.pos' has shape [8, 32], the config (d_model 16, vocab_size 40, max_seq 16) needs [16, 16]")
        tensors[posIndex] = good
        let removed = tensors.remove(at: posIndex)
        try SafeTensors.write(tensors: tensors, metadata: md, to: url)
        expectError(url, "tensor 'text.pos' is missing (the config's model needs it)")
        tensors.insert(removed, at: posIndex)
        tensors.append(NamedTensor(name: "text.blocks.1.norm1.weight", shape: [16], data: [Float](repeating: 1, count: 16)))
        try SafeTensors.write(tensors: tensors, metadata: md, to: url)
        expectError(url, "unexpected tensor 'text.blocks.1.norm1.weight': it is not a medr1-tiny weight for this config (vision_layers 1, text_layers 1)")
        tensors.removeLast()
        md["d_model"] = "sixteen"
        try SafeTensors.write(tensors: tensors, metadata: md, to: url)
        expectError(url, "metadata field 'd_model' is 'sixteen', not an integer")
        md["d_model"] = "16"
        md["tokenizer"] = nil
        try SafeTensors.write(tensors: tensors, metadata: md, to: url)
        expectError(url, "metadata field 'tokenizer' is missing: save the model with its tokenizer")
    }

    func testGenericSafeTensorsRoundTrip() throws {
        let dir = try TestSupport.temporaryDirectory()
        let url = dir.appendingPathComponent("state.safetensors")
        let ts = [NamedTensor(name: "adam.m", shape: [2, 3], data: [1, 2, 3, 4, 5, -6]),
                  NamedTensor(name: "adam.v", shape: [1], data: [.leastNonzeroMagnitude])]
        try SafeTensors.write(tensors: ts, metadata: ["step": "3"], to: url)
        let back = try SafeTensors.read(url)
        XCTAssertEqual(back.tensors, ts)
        XCTAssertEqual(back.metadata, ["step": "3"])
    }
}
