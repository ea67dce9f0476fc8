// A trainer checkpoint folder, replaced as a whole.
//
// A save writes every file of the new version into a temporary sibling
// folder `.NAME.tmp-PID-RANDOM`, flushes each file and the folder, then swaps
// it with NAME in one atomic rename (renameat2 RENAME_EXCHANGE; where the file
// system cannot, NAME is renamed away first and a later save or resume puts it
// back if the writer died in between). The path therefore always holds one
// whole version. The temporary of a killed writer is removed by the next save
// or resume of the same path.
//
// The manifest (trainer.json) is the last file written. It records, for every
// other file, its size, FNV-1a 64 content hash and step, and for the history
// the number of lines and bytes that belong to this version: resume checks all
// of them and refuses a folder that mixes files of different saves.
//
// history.jsonl holds one JSON line per trainer step and only grows: a save
// hard-links the previous version's file into the new folder, cuts it back to
// the previous version's recorded length (a killed save may have appended
// more) and appends the new steps, so a save costs O(new steps). Appending
// through the link also lengthens the previous version's file, which is
// harmless: its manifest names the prefix that belongs to it.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One file of a checkpoint folder as its manifest records it.
struct FileRecord: Codable, Equatable {
    var bytes: Int
    /// FNV-1a 64 of the file's bytes, 16 hex digits.
    var fnv1a64: String
    /// The trainer step the file was written at.
    var step: Int
}

/// The part of history.jsonl that belongs to a version: its first `lines` lines, `bytes` bytes.
struct HistoryRecord: Codable, Equatable {
    var lines: Int
    var bytes: Int
    var fnv1a64: String
}

/// Where each line of a trainer's saved history ends and the FNV-1a 64 state
/// after it, so that a save checks in O(1) whether the previous version's
/// history is a prefix of this one's.
public struct HistoryLog: Sendable {
    private(set) var ends: [Int] = []
    private(set) var hashes: [UInt64] = []
    static let basis: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}
    var count: Int { ends.count }
    var bytes: Int { ends.last ?? 0 }
    var hash: UInt64 { hashes.last ?? HistoryLog.basis }

    mutating func append(_ line: Data) {
        ends.append(bytes + line.count)
        hashes.append(line.withUnsafeBytes { FileIO.fnv1a64($0, continuing: hash) })
    }

    /// Whether the first `r.lines` lines of this log are the recorded ones.
    func hasPrefix(_ r: HistoryRecord) -> Bool {
        guard r.lines >= 0, r.lines <= count else { return false }
        if r.lines == 0 { return r.bytes == 0 }
        return ends[r.lines - 1] == r.bytes && FileIO.hex(hashes[r.lines - 1]) == r.fnv1a64
    }

    var record: HistoryRecord { HistoryRecord(lines: count, bytes: bytes, fnv1a64: FileIO.hex(hash)) }

    static func encoder() -> JSONEncoder {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return enc
    }

    static func decoder() -> JSONDecoder {
        let dec = JSONDecoder()
        dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return dec
    }

    /// One step as a line of history.jsonl (with its newline).
    static func line(_ m: StepMetrics, _ enc: JSONEncoder) throws -> Data {
        var d = try enc.encode(m)
        d.append(0x0A)
        return d
    }
}

enum CheckpointFolder {
    static let manifest = "trainer.json"
    static let history = "history.jsonl"
    /// history.jsonl is read up to this size (about 70 bytes... 2 KB a step).
    static let maxHistoryBytes = 1 << 31

    /// A save error naming the folder; the previous version stays in place.
    static func saveError(_ dir: URL, _ what: String) -> CheckpointError {
        CheckpointError(file: dir.path, "\(what); the checkpoint at this path is unchanged")
    }

    // MARK: - Writing

    /// Writes a new version of the folder `dir`: `files` (name and bytes,
    /// made one at a time), history.jsonl with `steps`, then the manifest made
    /// by `makeManifest` from the records of the others; then swaps it in.
    static func write(to dir: URL, files: [(name: String, bytes: () throws -> Data)], step: Int,
                      steps: [StepMetrics], log: inout HistoryLog,
                      manifest makeManifest: ([String: FileRecord], HistoryRecord) throws -> Data) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        recover(dir)
        if fm.fileExists(atPath: dir.path, isDirectory: &isDir) {
            guard isDir.boolValue else {
                throw CheckpointError(file: dir.path, "is a file, not a trainer checkpoint folder: save the trainer to another path")
            }
            let names = (try? fm.contentsOfDirectory(atPath: dir.path)) ?? []
            guard names.isEmpty || names.contains(manifest) else {
                throw CheckpointError(file: dir.path, "is a folder that holds no trainer checkpoint (no trainer.json), and a save replaces the whole folder: save the trainer to another path")
            }
        } else {
            do { try fm.createDirectory(at: dir.deletingLastPathComponent(), withIntermediateDirectories: true) } catch {
                throw CheckpointError(file: dir.deletingLastPathComponent().path, "cannot create the folder (\(FileIO.reason(error)))")
            }
        }
        let tmp = FileIO.temporaryPath(for: dir, kind: "tmp")
        guard mkdir(tmp, 0o755) == 0 else { throw saveError(dir, "cannot create a folder beside it (\(FileIO.reason(errno: errno)))") }
        do {
            var records: [String: FileRecord] = [:]
            for f in files {
                let data = try f.bytes()
                try writeFile(data, tmp, f.name, dir)
                records[f.name] = FileRecord(bytes: data.count, fnv1a64: FileIO.hex(FileIO.fnv1a64(data)), step: step)
            }
            let h = try writeHistory(into: tmp, previous: dir, steps: steps, log: &log)
            try writeFile(try makeManifest(records, h), tmp, manifest, dir)
            FileIO.syncDirectory(tmp)
            try swapIn(tmp, dir)
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw error
        }
    }

    private static func writeFile(_ data: Data, _ folder: String, _ name: String, _ dir: URL) throws {
        do { try FileIO.writeNewFile(data, to: folder + "/" + name) } catch let e as FileError {
            throw saveError(dir, "cannot write \(name) (\(e.reason))")
        }
    }

    /// history.jsonl of the new version: the previous version's file extended
    /// by the new lines when its recorded prefix is this history's, else written whole.
    private static func writeHistory(into folder: String, previous dir: URL, steps: [StepMetrics],
                                     log: inout HistoryLog) throws -> HistoryRecord {
        let enc = HistoryLog.encoder()
        if log.count > steps.count { log = HistoryLog() }
        for m in steps[log.count...] { log.append(try HistoryLog.line(m, enc)) }
        let target = folder + "/" + history
        if let prev = previousHistory(dir), log.hasPrefix(prev),
           link(dir.appendingPathComponent(history).path, target) == 0 {
            var tail = Data()
            for m in steps[prev.lines...] { tail.append(try HistoryLog.line(m, enc)) }
            if appendTail(tail, to: target, at: prev.bytes) { return log.record }
            unlink(target)
        }
        var all = Data()
        for m in steps { all.append(try HistoryLog.line(m, enc)) }
        try writeFile(all, folder, history, dir)
        return log.record
    }

    /// Cuts the (linked) file back to `offset` bytes, appends `tail` and flushes it.
    /// False on any failure (the caller writes the file whole instead).
    private static func appendTail(_ tail: Data, to path: String, at offset: Int) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, Int(st.st_size) >= offset,
              ftruncate(fd, off_t(offset)) == 0, lseek(fd, off_t(offset), SEEK_SET) == off_t(offset) else { return false }
        do { try FileIO.writeAll(fd, tail, path: path) } catch { return false }
        return fsync(fd) == 0
    }

    /// The history record of the version now at `dir`, if it has one.
    private static func previousHistory(_ dir: URL) -> HistoryRecord? {
        struct Probe: Decodable { var history: HistoryRecord? }
        guard let data = try? FileIO.read(dir.appendingPathComponent(manifest), limit: 1 << 20) else { return nil }
        return (try? JSONDecoder().decode(Probe.self, from: data))?.history
    }

    /// Puts the complete folder `tmp` at `dir` in one step.
    static func swapIn(_ tmp: String, _ dir: URL) throws {
        let parent = dir.deletingLastPathComponent().path
        var st = stat()
        if lstat(dir.path, &st) != 0 {
            guard rename(tmp, dir.path) == 0 else { throw saveError(dir, "cannot rename the new version into place (\(FileIO.reason(errno: errno)))") }
        } else if FileIO.exchange(tmp, dir.path) {
            FileIO.syncDirectory(parent)
            try? FileManager.default.removeItem(atPath: tmp)   // now the previous version
        } else {
            let old = FileIO.temporaryPath(for: dir, kind: "old")
            guard rename(dir.path, old) == 0 else { throw saveError(dir, "cannot move the previous version aside (\(FileIO.reason(errno: errno)))") }
            guard rename(tmp, dir.path) == 0 else {
                let reason = FileIO.reason(errno: errno)
                _ = rename(old, dir.path)
                throw saveError(dir, "cannot rename the new version into place (\(reason))")
            }
            FileIO.syncDirectory(parent)
            try? FileManager.default.removeItem(atPath: old)
        }
        FileIO.syncDirectory(parent)
    }

    /// Cleans up after writers of `dir` that were killed: puts a version moved
    /// aside back when the path is empty, removes their temporary folders.
    static func recover(_ dir: URL) {
        let stale = FileIO.staleTemporaries(of: dir)
        var st = stat()
        if lstat(dir.path, &st) != 0, let old = stale.last(where: { $0.contains(".old-") }) {
            _ = rename(old, dir.path)
        }
        for p in stale where FileManager.default.fileExists(atPath: p) { try? FileManager.default.removeItem(atPath: p) }
    }

    // MARK: - Reading

    /// The bytes of file `name` of the folder, checked against its manifest record.
    static func verifiedFile(_ dir: URL, _ name: String, _ record: FileRecord?, step: Int, limit: Int) throws -> Data {
        let path = dir.appendingPathComponent(name).path
        guard let record else {
            throw RLError.badState("\(dir.appendingPathComponent(manifest).path): the manifest (field 'files') has no entry for \(name): the file is damaged")
        }
        let data: Data
        do { data = try FileIO.read(URL(fileURLWithPath: path), limit: limit) } catch let e as FileError {
            throw RLError.badState("\(path): \(e.action) (\(e.reason)); the checkpoint is incomplete")
        }
        let hash = FileIO.hex(FileIO.fnv1a64(data))
        guard data.count == record.bytes, hash == record.fnv1a64, record.step == step else {
            throw RLError.badState("\(path) does not belong to the save recorded in trainer.json (step \(step)): "
                                   + "the file has \(data.count) bytes with content hash \(hash), trainer.json records "
                                   + "\(record.bytes) bytes with hash \(record.fnv1a64) at step \(record.step); "
                                   + "the folder mixes files of different saves: resume from an intact checkpoint")
        }
        return data
    }

    /// The steps of history.jsonl that belong to the version (the first
    /// `record.lines` lines), checked against the record, and their log.
    static func readHistory(_ dir: URL, _ record: HistoryRecord, kind: String) throws -> ([StepMetrics], HistoryLog) {
        let path = dir.appendingPathComponent(history).path
        func bad(_ s: String) -> RLError { RLError.badState("\(path): \(s)") }
        guard record.bytes >= 0, record.bytes <= maxHistoryBytes, record.lines >= 0, record.lines <= record.bytes / 2 else {
            throw RLError.badState("\(dir.appendingPathComponent(manifest).path): field 'history' records \(record.lines) lines in \(record.bytes) bytes: not a possible history")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw bad("cannot read (\(FileIO.reason(errno: errno))); the checkpoint is incomplete") }
        defer { close(fd) }
        var data = Data(count: record.bytes)
        var got = 0
        try data.withUnsafeMutableBytes { (buf: UnsafeMutableRawBufferPointer) in
            while got < record.bytes {
                let n = pread(fd, buf.baseAddress! + got, record.bytes - got, off_t(got))
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw bad("cannot read (\(FileIO.reason(errno: errno)))") }
                if n == 0 { break }
                got += n
            }
        }
        guard got == record.bytes else {
            throw bad("has \(got) bytes, trainer.json records \(record.bytes): the file is truncated or from another save")
        }
        var log = HistoryLog()
        var lines: [Data] = []
        var start = 0
        data.withUnsafeBytes { raw in
            for i in 0..<raw.count where raw[i] == 0x0A {
                let line = Data(raw[start...i])
                log.append(line)
                lines.append(line)
                start = i + 1
            }
        }
        guard start == data.count, log.count == record.lines, FileIO.hex(log.hash) == record.fnv1a64 else {
            throw bad("its first \(record.bytes) bytes are not the \(record.lines) lines trainer.json records (content hash "
                      + "\(FileIO.hex(log.hash)), recorded \(record.fnv1a64)): the folder mixes files of different saves")
        }
        let dec = HistoryLog.decoder()
        var steps: [StepMetrics] = []
        steps.reserveCapacity(lines.count)
        for (i, line) in lines.enumerated() {
            let m: StepMetrics
            do { m = try dec.decode(StepMetrics.self, from: line) } catch {
                throw RLError.badState("\(path):\(i + 1): not a metrics line")
            }
            try TrainerStateIO.checkMetrics(m, index: i, kind: kind, source: "\(path):\(i + 1)")
            steps.append(m)
        }
        return (steps, log)
    }
}

extension FileIO {
    /// Puts the complete folder at `tmp` (a sibling of `dir`, from `temporaryPath(for:kind: "tmp")`)
    /// at `dir` in one step: a reader sees the previous folder or the new one, whole. Throws
    /// `CheckpointError` when the rename fails (the previous folder stays).
    public static func replaceFolder(_ dir: URL, with tmp: String) throws { try CheckpointFolder.swapIn(tmp, dir) }

    /// Puts back a previous version of the folder `dir` that a killed writer moved aside, and
    /// removes killed writers' temporaries.
    public static func recoverFolder(_ dir: URL) { CheckpointFolder.recover(dir) }
}
