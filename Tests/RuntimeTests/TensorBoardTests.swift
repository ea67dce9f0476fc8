import XCTest
import Foundation
@testable import Runtime

/// TensorBoard event files: the record framing, the Event fields, one folder per run.
final class TensorBoardTests: XCTestCase {
    func testCRC32CAndMasking() {
        // The check value of CRC-32C (RFC 3720, appendix B.4).
        XCTAssertEqual(TensorBoardWriter.crc32c(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(TensorBoardWriter.crc32c([]), 0)
        let crc = TensorBoardWriter.crc32c([1, 2, 3])
        XCTAssertEqual(TensorBoardWriter.maskedCRC([1, 2, 3]), ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
    }

    /// Records of a file: (data, whether both CRCs match).
    static func records(_ bytes: [UInt8]) -> [(data: [UInt8], ok: Bool)] {
        var out: [(data: [UInt8], ok: Bool)] = []
        var i = 0
        func le(_ at: Int, _ n: Int) -> UInt64 { (0..<n).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) } }
        while i + 12 <= bytes.count {
            let n = Int(le(i, 8))
            guard i + 12 + n + 4 <= bytes.count else { break }
            let lengthOK = UInt32(le(i + 8, 4)) == TensorBoardWriter.maskedCRC(Array(bytes[i..<i + 8]))
            let data = Array(bytes[i + 12..<i + 12 + n])
            let dataOK = UInt32(le(i + 12 + n, 4)) == TensorBoardWriter.maskedCRC(data)
            out.append((data, lengthOK && dataOK))
            i += 12 + n + 4
        }
        XCTAssertEqual(i, bytes.count, "bytes left after the last record")
        return out
    }

    /// Protocol-buffer fields of a message: (field, wire type, value bytes or varint).
    static func fields(_ b: [UInt8]) -> [(field: Int, wire: Int, bytes: [UInt8], varint: UInt64)] {
        var out: [(field: Int, wire: Int, bytes: [UInt8], varint: UInt64)] = []
        var i = 0
        func varint() -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true { let x = b[i]; i += 1; v |= UInt64(x & 0x7F) << shift; shift += 7; if x < 0x80 { return v } }
        }
        while i < b.count {
            let key = varint()
            let field = Int(key >> 3), wire = Int(key & 7)
            switch wire {
            case 0: out.append((field, wire, [], varint()))
            case 1: out.append((field, wire, Array(b[i..<i + 8]), 0)); i += 8
            case 5: out.append((field, wire, Array(b[i..<i + 4]), 0)); i += 4
            default:
                let n = Int(varint())
                out.append((field, wire, Array(b[i..<i + n]), 0)); i += n
            }
        }
        return out
    }

    func testTrainerStepsBecomeEventsPerRun() throws {
        let dir = try TestSupportDir.make()
        let sink = CollectingSink()
        var options = SessionOptions(seed: 5, sink: sink, baseDirectory: dir)
        options.tensorboardPath = dir.appendingPathComponent("tb").path
        let s = Session(options: options)
        XCTAssertEqual(s.run(source: TrainingBindingTests.setup + "\nlet w = sft(m, data, batch: 4)\nstep w, 2, quiet: true", file: "t.medr1"),
                       .ok, sink.text)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("tb/sft-1").path)
        XCTAssertEqual(files.count, 1)
        XCTAssertTrue(files[0].hasPrefix("events.out.tfevents.") && files[0].hasSuffix(".medr1"), files[0])
        let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent("tb/sft-1/" + files[0])))
        let records = Self.records(bytes)
        XCTAssertEqual(records.count, 3, "the version record and one per step")
        XCTAssertTrue(records.allSatisfy(\.ok))
        let version = Self.fields(records[0].data)
        XCTAssertEqual(version.map(\.field), [1, 3])
        XCTAssertEqual(String(decoding: version[1].bytes, as: UTF8.self), "brain.Event:2")
        let trainer = try XCTUnwrap(s.interpreter.globals.lookup("w"))
        guard case .host(let t as TrainerObject) = trainer else { return XCTFail() }
        for (k, record) in records.dropFirst().enumerated() {
            let event = Self.fields(record.data)
            XCTAssertEqual(event.map(\.field), [1, 2, 5])
            XCTAssertEqual(event[1].varint, UInt64(k + 1), "step")
            let values = Self.fields(event[2].bytes).map { Self.fields($0.bytes) }
            let tags = values.map { String(decoding: $0[0].bytes, as: UTF8.self) }
            let step = t.history.steps[k]
            XCTAssertEqual(tags, step.names.filter { $0 != "seconds" }.map { "train/" + $0 })
            let loss = values[tags.firstIndex(of: "train/loss")!][1]
            XCTAssertEqual(loss.wire, 5)
            let bits = loss.bytes.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
            XCTAssertEqual(Float(bitPattern: bits), Float(step["loss"]!))
        }
    }
}
