import Foundation
import XCTest
import TestSupport

/// Runs the built `medr1-repl` binary (it sits next to the test bundle in the
/// build directory, because ReplTests depends on the executable target).
enum BinaryHarness {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The build products directory: the one holding the `.xctest` bundle.
    static var productsDirectory: URL {
        let candidates = [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments.first ?? ".")]
            + Bundle.allBundles.map(\.bundleURL)
        for url in candidates {
            var dir = url
            for _ in 0..<3 {
                if FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("medr1-repl").path) {
                    return dir
                }
                dir = dir.deletingLastPathComponent()
            }
        }
        return Bundle.main.bundleURL
    }

    static var binary: URL { productsDirectory.appendingPathComponent("medr1-repl") }

    /// Runs the binary with `arguments`, feeding `stdin`, in `directory`.
    static func run(_ arguments: [String], stdin: String = "", directory: URL? = nil,
                    environment extra: [String: String] = [:]) throws -> Result {
        try run(arguments, stdinBytes: Data(stdin.utf8), directory: directory, environment: extra)
    }

    /// The same with raw bytes on stdin (which need not be UTF-8).
    static func run(_ arguments: [String], stdinBytes: Data, directory: URL? = nil,
                    environment extra: [String: String] = [:]) throws -> Result {
        let r = try TestSupport.runProcess(binary, arguments, stdin: stdinBytes, directory: directory,
                                           environment: extra.merging(["NO_COLOR": "1"]) { given, _ in given })
        return Result(status: r.status, stdout: r.stdout, stderr: r.stderr)
    }
}
