// File writes that either complete or leave the previous version in place,
// and I/O failures said in words.
//
// Every write goes through POSIX calls (open, write, fsync, rename) so that
// each failure comes back as an errno, which `FileIO.reason(errno:)` turns
// into words ("no space left on the device", "file too large"). Foundation's
// own errors (reads through `Data(contentsOf:)`) carry the errno as their
// underlying error; `FileIO.reason(_:)` reads it from there.
//
// Atomic replacement: the new version is written to a temporary sibling
// `.NAME.tmp-PID-RANDOM`, flushed with fsync, then renamed over NAME and the
// folder flushed. A writer killed before the rename leaves only its temporary,
// which the next write to the same NAME removes (its PID no longer runs).
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failed file operation: the path, what was attempted, and why in words.
public struct FileError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    /// "cannot write", "cannot read", ...
    public let action: String
    /// Why, in words: "no space left on the device", "permission denied", ...
    public let reason: String
    public init(path: String, action: String, reason: String) {
        self.path = path; self.action = action; self.reason = reason
    }
    public var description: String { "\(path): \(action) (\(reason))" }
}

public enum FileIO {
    // MARK: - Errors in words

    /// The errno values a file operation meets, in words.
    public static func reason(errno code: Int32) -> String {
        switch code {
        case ENOSPC: return "no space left on the device"
        case EFBIG: return "file too large (the file-size limit was reached)"
        case EDQUOT: return "disk quota exceeded"
        case EACCES, EPERM: return "permission denied"
        case EISDIR: return "is a directory"
        case ENOENT: return "no such file"
        case ENOTDIR: return "a part of the path is not a directory"
        case EROFS: return "read-only file system"
        case EEXIST: return "already exists"
        case ENOTEMPTY: return "directory not empty"
        case ENAMETOOLONG: return "file name too long"
        case EMFILE, ENFILE: return "too many open files"
        case EIO: return "input/output error"
        case ELOOP: return "too many symbolic links in the path"
        case EXDEV: return "the paths are on different file systems"
        case EBUSY: return "the file is busy"
        case ETXTBSY: return "the file is in use"
        case EINVAL: return "invalid argument"
        default: return String(cString: strerror(code)).lowercased()
        }
    }

    /// The reason of any error from a file operation, in words: Foundation's
    /// errors through their underlying POSIX error, never "error 512".
    public static func reason(_ error: Error) -> String {
        if let e = error as? FileError { return e.reason }
        if let e = error as? POSIXError { return reason(errno: e.code.rawValue) }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return reason(errno: Int32(ns.code)) }
        if let u = ns.userInfo[NSUnderlyingErrorKey] as? Error { return reason(u) }
        if ns.domain == NSCocoaErrorDomain {
            switch ns.code {
            case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return "no such file"
            case NSFileReadNoPermissionError, NSFileWriteNoPermissionError: return "permission denied"
            case NSFileWriteOutOfSpaceError: return "no space left on the device"
            case NSFileWriteVolumeReadOnlyError: return "read-only file system"
            case NSFileWriteFileExistsError: return "already exists"
            case NSFileReadInapplicableStringEncodingError, NSFileReadCorruptFileError: return "not valid UTF-8 text"
            case NSFileReadTooLargeError: return "file too large to read"
            default: break
            }
        }
        return "\(ns.localizedDescription)"
    }

    /// The current errno as a FileError.
    static func failure(_ path: String, _ action: String, _ code: Int32 = errno) -> FileError {
        FileError(path: path, action: action, reason: reason(errno: code))
    }

    // MARK: - Writing

    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(path, "cannot write")
            }
            done += n
        }
    }

    public static func writeAll(_ fd: Int32, _ data: Data, path: String) throws {
        try data.withUnsafeBytes { try writeAll(fd, $0, path: path) }
    }

    /// Creates `path` (which must not exist), writes `data`, fsyncs and closes it.
    /// `durable: false` skips the fsync (a kill still leaves a whole file; a power cut may not).
    public static func writeNewFile(_ data: Data, to path: String, durable: Bool = true) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure(path, "cannot create") }
        do {
            try writeAll(fd, data, path: path)
            guard !durable || fsync(fd) == 0 else { throw failure(path, "cannot flush to disk") }
        } catch {
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw failure(path, "cannot write") }
    }

    /// Replaces the file at `url` with `data` as a whole: a temporary sibling
    /// written and flushed, renamed over `url`, the folder flushed. On any
    /// failure the previous file is untouched and the temporary removed.
    /// `durable: false` skips the fsyncs and the clean-up of killed writers'
    /// temporaries, for many files cheap to make again (images).
    public static func writeAtomically(_ data: Data, to url: URL, durable: Bool = true) throws {
        let path = url.path
        let dir = url.deletingLastPathComponent().path
        // The rename would put a regular file in place of a device, FIFO or
        // socket (for root, /dev/null itself): only a file is replaced (the
        // rename itself refuses a directory).
        var st = stat()
        if stat(path, &st) == 0, st.st_mode & S_IFMT != S_IFDIR, let kind = notARegularFile(st.st_mode) {
            throw FileError(path: path, action: "cannot write", reason: "it is \(kind), not a regular file")
        }
        // Listing the folder per write would make writing many images quadratic.
        if durable { removeStaleTemporaries(of: url) }
        let tmp = temporaryPath(for: url, kind: "tmp")
        do {
            try writeNewFile(data, to: tmp, durable: durable)
        } catch let e as FileError {
            unlink(tmp)
            throw FileError(path: path, action: "cannot write", reason: e.reason)
        }
        if rename(tmp, path) != 0 {
            let e = failure(path, "cannot replace the file")
            unlink(tmp)
            throw e
        }
        if durable { syncDirectory(dir) }
    }

    /// What a file of this mode is when it is not a regular file ("a FIFO",
    /// "a directory", ...), or nil for a regular file.
    public static func notARegularFile(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "not a regular file"
        }
    }

    /// fsync of a folder, so that renames and new entries in it survive a crash.
    /// Best effort: some file systems refuse it, and the data is already flushed.
    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    // MARK: - Temporaries of a path

    /// `.NAME.KIND-PID-RANDOM` beside `url`.
    public static func temporaryPath(for url: URL, kind: String) -> String {
        url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).\(kind)-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))").path
    }

    /// Temporaries `.NAME.KIND-PID-...` of `url` whose writer no longer runs
    /// (kinds "tmp" and "old").
    public static func staleTemporaries(of url: URL) -> [String] {
        let dir = url.deletingLastPathComponent().path
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var out: [String] = []
        for kind in ["tmp", "old"] {
            let prefix = ".\(url.lastPathComponent).\(kind)-"
            for n in names where n.hasPrefix(prefix) && writerIsGone(n.dropFirst(prefix.count)) {
                out.append((dir as NSString).appendingPathComponent(n))
            }
        }
        return out.sorted()
    }

    /// Whether `rest`, the `PID-RANDOM` end of a temporary's name, names a
    /// process that no longer runs (not this one, not a live one).
    private static func writerIsGone(_ rest: Substring) -> Bool {
        guard let pid = Int32(rest.prefix { $0 != "-" }), pid > 0, rest.dropFirst(String(pid).count).first == "-" else { return false }
        return pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH
    }

    /// Removes the temporaries `.NAME.tmp-PID-RANDOM` (and `.old-`) of any
    /// NAME in `folder` whose writer no longer runs, with one listing of the
    /// folder: for folders of many files written with `durable: false`
    /// (images), which skip the clean-up per write.
    public static func removeStaleTemporaries(inFolder folder: URL) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for n in names where n.hasPrefix(".") {
            for marker in [".tmp-", ".old-"] {
                guard let r = n.range(of: marker, options: .backwards), r.lowerBound > n.index(after: n.startIndex),
                      writerIsGone(n[r.upperBound...]) else { continue }
                try? FileManager.default.removeItem(at: folder.appendingPathComponent(n))
                break
            }
        }
    }

    /// Removes the temporaries of writers of `url` that were killed mid-write.
    public static func removeStaleTemporaries(of url: URL) {
        for p in staleTemporaries(of: url) { try? FileManager.default.removeItem(atPath: p) }
    }

    // MARK: - Swapping folders

    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    /// glibc's renameat2 (Linux 3.15+), looked up at run time: Swift's Glibc
    /// module does not declare it.
    private static let renameat2: RenameAt2? =
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2").map { unsafeBitCast($0, to: RenameAt2.self) }

    /// Atomically exchanges two existing paths (RENAME_EXCHANGE). False when the
    /// system or file system cannot (errno set).
    public static func exchange(_ a: String, _ b: String) -> Bool {
        guard let renameat2 else { errno = ENOSYS; return false }
        return renameat2(AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */) == 0
    }

    // MARK: - Reading

    /// The bytes of a file of at most `limit` bytes; errors in words, naming the file.
    public static func read(_ url: URL, limit: Int) throws -> Data {
        do { return try FileInput.read(url, limit: limit, what: "such a file") } catch let e as FileInputError {
            if e.missing {
                throw FileError(path: e.path, action: "cannot read", reason: "no such file")
            }
            throw FileError(path: e.path, action: "cannot read", reason: e.message)
        }
    }

    // MARK: - Content hash

    /// FNV-1a 64 of the bytes: tells two saves' files apart (not a security hash).
    public static func fnv1a64(_ bytes: UnsafeRawBufferPointer, continuing h0: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        var h = h0
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    public static func fnv1a64(_ data: Data) -> UInt64 { data.withUnsafeBytes { fnv1a64($0) } }

    public static func hex(_ h: UInt64) -> String {
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
