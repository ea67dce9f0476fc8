// Reading files that may be hostile: every file the library reads (PNG images,
// data-set JSON, safetensors checkpoints) goes through `FileInput.read`, which
// refuses anything but a regular file (a FIFO or device would block or never
// end) and any file larger than the caller's limit, before allocating.
//
// The path is checked with stat first (so a device is never even opened), then
// opened with O_NONBLOCK and checked again with fstat on the open descriptor,
// so a path swapped for a FIFO between the two cannot block the process.
//
// `FileInput.jsonObject` parses JSON and reports a syntax error with its line
// and column, computed from the byte offset Foundation's parser names.

import Foundation
#if canImport(Glibc)
import Glibc
private let systemRead = Glibc.read
#elseif canImport(Darwin)
import Darwin
private let systemRead = Darwin.read
#endif

/// A file that could not be read; `message` says why (without the path, which
/// callers put in front in their own error type).
public struct FileInputError: Error, Equatable, Sendable {
    public var path: String
    public var message: String
    /// True when the path names no file at all.
    public var missing = false
}

public enum FileInput {
    /// Largest PNG file read (bytes).
    public static let maxPNGFileBytes = 64 << 20
    /// Largest data-set JSON file read (bytes).
    public static let maxDataJSONBytes = 128 << 20
    /// Largest safetensors file read (bytes): the largest file the project writes is
    /// an optimizer state, two moments per weight of the largest model allowed.
    public static let maxSafeTensorsBytes = 2 * 4 * ModelConfig.maxParameters + SafeTensors.maxHeaderBytes + 8

    /// The bytes of the regular file at `url`, at most `limit` of them. `what`
    /// names the kind of file in the size message ("a PNG image").
    public static func read(_ url: URL, limit: Int, what: String) throws -> Data {
        let path = url.path
        func fail(_ m: String) -> FileInputError { FileInputError(path: path, message: m) }
        func requireRegular(_ mode: mode_t) throws {
            if let kind = FileIO.notARegularFile(mode) { throw fail("is not a regular file (it is \(kind)): give the path of a file") }
        }
        var pre = stat()
        if stat(path, &pre) == 0 { try requireRegular(pre.st_mode) }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else {
            let code = errno
            var e = fail("cannot be opened (\(FileIO.reason(errno: code))): check the path")
            e.missing = code == ENOENT
            throw e
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw fail("cannot be examined (\(FileIO.reason(errno: errno)))")
        }
        try requireRegular(st.st_mode)
        let size = Int(st.st_size)
        guard size <= limit else {
            throw fail("is \(size) bytes, more than the \(limit) bytes allowed for \(what)")
        }
        var data = Data(count: size)
        var got = 0
        try data.withUnsafeMutableBytes { buf in
            while got < size {
                let n = systemRead(fd, buf.baseAddress! + got, size - got)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw fail("cannot be read (\(FileIO.reason(errno: errno)))")
                }
                if n == 0 { break }
                got += n
            }
        }
        // A file that shrank while being read: keep what was there.
        if got < size { data.count = got }
        return data
    }

    // MARK: - JSON with line:col

    /// A JSON syntax error: where (1-based line and column, in characters; nil when
    /// the parser names no position) and what.
    public struct JSONSyntaxError: Error, Equatable, Sendable {
        public var line: Int?
        public var column: Int?
        public var reason: String
        /// "line 3, column 7: <reason>", or the reason alone.
        public var description: String {
            guard let line, let column else { return reason }
            return "line \(line), column \(column): \(reason)"
        }
    }

    /// Parses `data` as JSON; a syntax error comes back as a `JSONSyntaxError`
    /// with the line and column of the offending byte (the end of the text when
    /// the text ends too early; none when the parser names no position).
    public static func jsonObject(_ data: Data) throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            let debug = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? ""
            let endsEarly = debug.contains("end of file") || debug.isEmpty
            guard let offset = byteOffset(in: debug) ?? (endsEarly ? data.count : nil) else {
                throw JSONSyntaxError(line: nil, column: nil, reason: reason(debug, atEnd: false))
            }
            let (line, column) = lineColumn(data, offset: offset)
            throw JSONSyntaxError(line: line, column: column, reason: reason(debug, atEnd: offset >= data.count))
        }
    }

    /// The number after "character " or "position " in Foundation's message.
    static func byteOffset(in message: String) -> Int? {
        for key in ["character ", "position "] {
            guard let r = message.range(of: key, options: .backwards) else { continue }
            let digits = message[r.upperBound...].prefix { $0.isASCII && $0.isNumber }
            if let n = Int(digits) { return n }
        }
        return nil
    }

    /// Foundation's message without its "around character N." tail.
    static func reason(_ message: String, atEnd: Bool) -> String {
        var m = message
        for key in [" around character", " at position", " at character", " starting from character"] {
            if let r = m.range(of: key) { m = String(m[..<r.lowerBound]) }
        }
        m = m.trimmingCharacters(in: CharacterSet(charactersIn: ". "))
        if m.isEmpty { return atEnd ? "the text ends early" : "invalid JSON" }
        return m.prefix(1).lowercased() + m.dropFirst()
    }

    /// 1-based line and column (in characters) of byte `offset` of `data`.
    public static func lineColumn(_ data: Data, offset: Int) -> (line: Int, column: Int) {
        let end = max(0, min(offset, data.count))
        var line = 1, lineStart = 0
        data.withUnsafeBytes { raw in
            let b = raw.bindMemory(to: UInt8.self)
            for i in 0..<end where b[i] == 0x0A {
                line += 1
                lineStart = i + 1
            }
        }
        let prefix = data.subdata(in: data.startIndex + lineStart..<data.startIndex + end)
        let column = String(decoding: prefix, as: UTF8.self).count + 1
        return (line, column)
    }
}
