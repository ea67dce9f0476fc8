import Foundation
/// Shared helpers for the test targets.
public enum TestSupport {
    /// A fresh temporary directory, unique per call.
    public static func temporaryDirectory(_ prefix: String = "medr1-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
