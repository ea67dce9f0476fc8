import Foundation

// The safetensors format (huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON ({"__metadata__": {string: string},
// name: {"dtype", "shape", "data_offsets": [begin, end]}}), then the raw
// little-endian data. Only F32 is read or written here. Every check on read
// throws a CheckpointError naming the file and the tensor or field.

/// A failed checkpoint read or write: names the file and what is wrong in it.
public struct CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file's path.
    public let file: String
    /// What is wrong (naming the tensor or field) and how to fix it.
    public let message: String
    public init(file: String, _ message: String) { self.file = file; self.message = message }
    /// Control characters (from a file's name or header) are escaped.
    public var description: String { JSONLiteral.escapingControls("\(file): \(message)") }
}

/// One tensor to write or that was read.
public struct NamedTensor: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var data: [Float]
    public init(name: String, shape: [Int], data: [Float]) { self.name = name; self.shape = shape; self.data = data }
}

public enum SafeTensors {
    /// The largest file `read` accepts: an optimizer state of the largest model allowed.
    public static var maxFileBytes: Int { FileInput.maxSafeTensorsBytes }

    /// Writes tensors (in the given order) and string metadata atomically
    /// (`FileIO.writeAtomically`: a flushed temporary renamed over `url`), so a
    /// crash mid-save leaves the previous file intact.
    public static func write(tensors: [NamedTensor], metadata: [String: String], to url: URL) throws {
        let data = try encode(tensors: tensors, metadata: metadata, path: url.path)
        do { try FileIO.writeAtomically(data, to: url) } catch let e as FileError {
            throw CheckpointError(file: url.path, "cannot write (\(e.reason)): check that the directory \(url.deletingLastPathComponent().path) exists and is writable")
        }
    }

    /// The bytes of a safetensors file (`path` names it in errors).
    public static func encode(tensors: [NamedTensor], metadata: [String: String], path: String) throws -> Data {
        var seen = Set<String>()
        for t in tensors {
            guard t.shape.reduce(1, *) == t.data.count else {
                throw CheckpointError(file: path, "tensor '\(t.name)': shape \(t.shape) holds \(t.shape.reduce(1, *)) values but \(t.data.count) were given")
            }
            guard seen.insert(t.name).inserted, t.name != "__metadata__" else {
                throw CheckpointError(file: path, "tensor name '\(t.name)' is used twice or reserved")
            }
        }
        // Header: metadata (keys sorted) then tensors in order; deterministic bytes.
        var header = "{\"__metadata__\":{"
        header += metadata.keys.sorted().map { "\(JSONLiteral.string($0)):\(JSONLiteral.string(metadata[$0]!))" }.joined(separator: ",")
        header += "}"
        var offset = 0
        for t in tensors {
            let bytes = t.data.count * 4
            header += ",\(JSONLiteral.string(t.name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var data = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: headerBytes)
        for t in tensors { t.data.withUnsafeBytes { data.append(contentsOf: $0) } }
        return data
    }

    /// The contents of a safetensors file: metadata and tensors in file order.
    public struct Contents: Sendable {
        public var metadata: [String: String]
        public var tensors: [NamedTensor]
        public func tensor(_ name: String) -> NamedTensor? { tensors.first { $0.name == name } }
    }

    /// Largest JSON header read (bytes): the config and tokenizer take a few kilobytes.
    public static let maxHeaderBytes = 64 << 20
    /// Most dimensions of one tensor.
    public static let maxRank = 8

    /// Reads and validates a safetensors file of F32 tensors: the file (a regular
    /// file of at most `FileInput.maxSafeTensorsBytes`), header length (at most
    /// `maxHeaderBytes`), JSON (errors give line and column), metadata strings,
    /// dtype, shapes, data offsets (inside the data section, matching the shape),
    /// and that every value is finite.
    public static func read(_ url: URL) throws -> Contents {
        let path = url.path
        let data: Data
        do {
            data = try FileInput.read(url, limit: FileInput.maxSafeTensorsBytes, what: "a safetensors file")
        } catch let e as FileInputError {
            throw CheckpointError(file: path, "the file \(e.message)")
        }
        return try decode(data, path: path)
    }

    /// Validates and decodes the bytes of a safetensors file; `path` names it in errors.
    public static func decode(_ data: Data, path: String) throws -> Contents {
        func fail(_ m: String) -> CheckpointError { CheckpointError(file: path, m) }
        guard data.count >= 8 else {
            throw fail("file is \(data.count) bytes, too short for the 8-byte header length: the file is truncated or not a safetensors file")
        }
        let n = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard n <= UInt64(data.count - 8) else {
            throw fail("header length \(n) exceeds the \(data.count - 8) bytes after the length field: the file is truncated or not a safetensors file")
        }
        guard n <= UInt64(maxHeaderBytes) else {
            throw fail("header length \(n) is more than the \(maxHeaderBytes) bytes allowed: the file is corrupted or not a medr1 checkpoint")
        }
        let headerData = data.subdata(in: 8..<(8 + Int(n)))
        let json: Any
        do { json = try FileInput.jsonObject(headerData) } catch let e as FileInput.JSONSyntaxError {
            throw fail("header is not valid JSON (header \(e.description)): the file is corrupted")
        }
        guard let obj = json as? [String: Any] else { throw fail("header is not a JSON object: the file is corrupted") }
        var metadata: [String: String] = [:]
        if let m = obj["__metadata__"] {
            guard let md = m as? [String: Any] else { throw fail("__metadata__ is not an object of strings") }
            for (k, v) in md {
                guard let s = v as? String else { throw fail("metadata field '\(k)' is not a string") }
                metadata[k] = s
            }
        }
        let dataStart = 8 + Int(n), dataSize = data.count - dataStart
        var entries: [(name: String, shape: [Int], begin: Int, end: Int)] = []
        // Check entries in file order (by begin offset, then name) so the
        // first error reported is deterministic.
        func begin(_ v: Any?) -> Int {
            ((v as? [String: Any])?["data_offsets"] as? [Any]).flatMap { intArray($0) }?.first ?? Int.max
        }
        let names = obj.keys.filter { $0 != "__metadata__" }.sorted { (begin(obj[$0]), $0) < (begin(obj[$1]), $1) }
        for name in names {
            let value = obj[name]!
            guard let e = value as? [String: Any] else { throw fail("tensor '\(name)': entry is not an object") }
            guard let dtype = e["dtype"] as? String else { throw fail("tensor '\(name)': dtype is missing") }
            guard dtype == "F32" else {
                throw fail("tensor '\(name)' has dtype \(dtype): only F32 is supported (convert the weights to float32)")
            }
            guard let shapeAny = e["shape"] as? [Any], let shape = intArray(shapeAny), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("tensor '\(name)': shape is not a list of non-negative integers")
            }
            guard shape.count <= maxRank else {
                throw fail("tensor '\(name)': shape \(shape) has \(shape.count) dimensions, more than the \(maxRank) allowed")
            }
            guard let need = byteCount(shape) else {
                throw fail("tensor '\(name)': shape \(shape) holds too many values to address: the file is corrupted")
            }
            guard let offAny = e["data_offsets"] as? [Any], let off = intArray(offAny), off.count == 2,
                  off[0] >= 0, off[0] <= off[1] else {
                throw fail("tensor '\(name)': data_offsets is not a pair [begin, end] with 0 <= begin <= end")
            }
            guard off[1] - off[0] == need else {
                throw fail("tensor '\(name)': data_offsets [\(off[0]), \(off[1])] hold \(off[1] - off[0]) bytes, shape \(shape) needs \(need)")
            }
            guard off[1] <= dataSize else {
                throw fail("tensor '\(name)': data ends at byte \(off[1]), past the end of the data section (\(dataSize) bytes): the file is truncated")
            }
            entries.append((name, shape, off[0], off[1]))
        }
        entries.sort { ($0.begin, $0.name) < ($1.begin, $1.name) }
        for (a, b) in zip(entries, entries.dropFirst()) where b.begin < a.end {
            throw fail("tensors '\(a.name)' and '\(b.name)' overlap in the data section: the file is corrupted")
        }
        var tensors: [NamedTensor] = []
        tensors.reserveCapacity(entries.count)
        try data.withUnsafeBytes { raw in
            for e in entries {
                let count = (e.end - e.begin) / 4
                var values = [Float](repeating: 0, count: count)
                values.withUnsafeMutableBytes { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[(dataStart + e.begin)..<(dataStart + e.end)]))
                }
                if let bad = values.firstIndex(where: { !$0.isFinite }) {
                    throw fail("tensor '\(e.name)' holds a non-finite value (\(values[bad])) at index \(bad): "
                        + "the weights diverged or the file is corrupted")
                }
                tensors.append(NamedTensor(name: e.name, shape: e.shape, data: values))
            }
        }
        return Contents(metadata: metadata, tensors: tensors)
    }

    /// 4 * the product of `shape`, or nil when it overflows.
    private static func byteCount(_ shape: [Int]) -> Int? {
        var n = 4
        for d in shape {
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    private static func intArray(_ a: [Any]) -> [Int]? {
        var out: [Int] = []
        for v in a {
            if let i = v as? Int { out.append(i) } else if let d = v as? Double, d == d.rounded(), abs(d) < 1e15 {
                out.append(Int(d))
            } else { return nil }
        }
        return out
    }

}
