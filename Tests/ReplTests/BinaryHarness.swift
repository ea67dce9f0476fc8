import Foundation
import XCTest

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
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Drain both pipes while the process runs, so neither fills and blocks it.
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async {
            errData = errors.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        input.fileHandleForWriting.write(stdinBytes)
        try input.fileHandleForWriting.close()
        let outData = output.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}
