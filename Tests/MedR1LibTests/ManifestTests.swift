import Foundation
import XCTest

/// Package.swift's build settings, read back through `swift package
/// dump-package`: Swift's checks stay on, and a portable build (what a
/// dependency checkout gets) carries no unsafe flags.
final class ManifestTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// target name -> every unsafe flag and every define of its Swift settings.
    func settings(environment extra: [String: String]) throws -> [String: (unsafe: [String], defines: [String])] {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("medr1-manifest-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // A scratch path of its own: the test run holds the lock on .build.
        process.arguments = ["swift", "package", "--package-path", Self.repository.path,
                             "--scratch-path", scratch.path, "dump-package"]
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in extra { environment[k] = v }
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var result: [String: (unsafe: [String], defines: [String])] = [:]
        for target in json["targets"] as? [[String: Any]] ?? [] {
            let name = target["name"] as? String ?? "?"
            var unsafe: [String] = [], defines: [String] = []
            for setting in target["settings"] as? [[String: Any]] ?? [] {
                let kind = setting["kind"] as? [String: Any] ?? [:]
                if let flags = (kind["unsafeFlags"] as? [String: Any])?["_0"] as? [String] { unsafe += flags }
                if let define = (kind["define"] as? [String: Any])?["_0"] as? String { defines.append(define) }
            }
            result[name] = (unsafe, defines)
        }
        return result
    }

    func testEveryTargetKeepsSwiftsChecks() throws {
        let targets = try settings(environment: ["MEDR1_PORTABLE": "0"])
        XCTAssertTrue(targets.keys.contains("MedR1Lib"), "\(targets.keys.sorted())")
        for (name, s) in targets {
            XCTAssertFalse(s.unsafe.contains("-Ounchecked"), "\(name): \(s.unsafe)")
        }
        XCTAssertEqual(targets["MedR1Lib"]?.unsafe, ["-target-cpu", "haswell"])
        XCTAssertEqual(targets["MedR1AVX512"]?.unsafe, ["-target-cpu", "skylake-avx512"])
    }

    func testPortableBuildHasNoUnsafeFlags() throws {
        let targets = try settings(environment: ["MEDR1_PORTABLE": "1"])
        XCTAssertTrue(targets.keys.contains("Runtime"), "\(targets.keys.sorted())")
        for (name, s) in targets {
            XCTAssertEqual(s.unsafe, [], name)
        }
        XCTAssertEqual(targets["MedR1Lib"]?.defines, ["MEDR1_PORTABLE_KERNELS"])
    }
}
