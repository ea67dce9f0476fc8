// `--tensorboard DIR`: every trainer step also goes to a TensorBoard event
// file, one folder per run (DIR/sft-1, DIR/grpo-2), so `tensorboard --logdir
// DIR` shows medr1's runs beside TRL's with the same tags ("train/" + TRL's
// metric name, as TRL's TensorBoard logging writes them).
//
// The format is TensorFlow's record file: each record is its length (uint64,
// little-endian), the masked CRC-32C of those 8 bytes, the data, and the
// masked CRC-32C of the data. The data is an `Event` protocol buffer; the few
// fields used are written here by hand (no generated code needed):
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }

import Foundation
import MedR1Lib

final class TensorBoardWriter {
    let directory: URL
    /// Open event files by run id.
    private var files: [String: (fd: Int32, path: String)] = [:]

    init(directory: URL) { self.directory = directory }

    /// Appends one step's scalars to its run's event file (created with its
    /// version record at the run's first step).
    func append(run: String, step: Int, scalars: [(tag: String, value: Double)], wallTime: Double = Date().timeIntervalSince1970) throws {
        let fd = try file(for: run, wallTime: wallTime)
        var summary = [UInt8]()
        for (tag, value) in scalars {
            var v = [UInt8]()
            Protobuf.string(1, tag, into: &v)
            Protobuf.float(2, Float(value), into: &v)
            Protobuf.message(1, v, into: &summary)
        }
        var event = [UInt8]()
        Protobuf.double(1, wallTime, into: &event)
        Protobuf.varint(2, UInt64(bitPattern: Int64(step)), into: &event)
        Protobuf.message(5, summary, into: &event)
        try write(fd.fd, Self.record(event), path: fd.path)
    }

    private func file(for run: String, wallTime: Double) throws -> (fd: Int32, path: String) {
        if let f = files[run] { return f }
        // A run id is the trainer's kind and a number: safe as a folder name.
        let folder = directory.appendingPathComponent(run)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw RuntimeError("cannot write TensorBoard events to \(folder.path): \(Files.reason(error))")
        }
        // TensorBoard finds files by "tfevents" in the name; no host name, so nothing names the machine.
        let path = folder.appendingPathComponent("events.out.tfevents.\(Int(wallTime)).medr1").path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOCTTY, 0o644)
        guard fd >= 0 else { throw RuntimeError("cannot write TensorBoard events to \(path): \(FileIO.reason(errno: errno))") }
        files[run] = (fd, path)
        var version = [UInt8]()
        Protobuf.double(1, wallTime, into: &version)
        Protobuf.string(3, "brain.Event:2", into: &version)
        try write(fd, Self.record(version), path: path)
        return (fd, path)
    }

    private func write(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        do { try FileIO.writeAll(fd, Data(bytes), path: path) } catch {
            throw RuntimeError("cannot write TensorBoard events to \(path): \(Files.reason(error))")
        }
    }

    /// One framed record: length, masked CRC of the length, data, masked CRC of the data.
    static func record(_ data: [UInt8]) -> [UInt8] {
        var length = [UInt8]()
        for k in 0..<8 { length.append(UInt8(truncatingIfNeeded: UInt64(data.count) >> (8 * k))) }
        return length + le32(maskedCRC(length)) + data + le32(maskedCRC(data))
    }

    static func le32(_ x: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: x >> (8 * $0)) } }

    /// TensorFlow's masked CRC: rotate right by 15 and add a constant.
    static func maskedCRC(_ bytes: [UInt8]) -> UInt32 {
        let crc = crc32c(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
    static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    private static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    deinit { for f in files.values { close(f.fd) } }
}

/// The protocol-buffer wire format, for the fields above.
enum Protobuf {
    static func key(_ field: Int, _ wire: UInt64, into out: inout [UInt8]) { raw(UInt64(field) << 3 | wire, into: &out) }

    static func raw(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    static func varint(_ field: Int, _ value: UInt64, into out: inout [UInt8]) { key(field, 0, into: &out); raw(value, into: &out) }

    static func double(_ field: Int, _ value: Double, into out: inout [UInt8]) {
        key(field, 1, into: &out)
        for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: value.bitPattern >> (8 * k))) }
    }

    static func float(_ field: Int, _ value: Float, into out: inout [UInt8]) {
        key(field, 5, into: &out)
        for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: value.bitPattern >> (8 * k))) }
    }

    static func message(_ field: Int, _ bytes: [UInt8], into out: inout [UInt8]) {
        key(field, 2, into: &out)
        raw(UInt64(bytes.count), into: &out)
        out += bytes
    }

    static func string(_ field: Int, _ text: String, into out: inout [UInt8]) { message(field, Array(text.utf8), into: &out) }
}
