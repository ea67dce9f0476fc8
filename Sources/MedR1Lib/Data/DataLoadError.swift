// Errors of the data loaders, and the record access they share.
//
// A bad record is reported as `file: record i, field 'f': what is wrong` plus how
// to fix it, so that a student holding 88k OmniMedVQA records can find the one
// at fault. Loaders either throw at the first bad record or, with skipBad, skip
// it and count it. Messages use the scripting language's spelling (`skip_bad:`,
// `modality:`), since that is where users meet them.
import Foundation

/// A data file or record that cannot be loaded.
public struct DataLoadError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// Path of the file at fault.
    public let file: String
    /// Index of the record in the file's JSON list (nil: the whole file).
    public let record: Int?
    /// JSON field at fault (nil: the record or file as a whole).
    public let field: String?
    /// What is wrong.
    public let message: String

    public init(file: String, record: Int? = nil, field: String? = nil, message: String) {
        self.file = file
        self.record = record
        self.field = field
        self.message = message
    }

    public var description: String {
        var where_ = file
        if let r = record { where_ += ": record \(r)" }
        if let f = field { where_ += ", field '\(f)'" }
        let fix = record != nil
            ? " (fix the record, or load with skip_bad: true to skip bad records)"
            : ""
        return JSONLiteral.escapingControls(where_ + ": " + message + fix)
    }

    public var errorDescription: String? { description }
}

/// One JSON record of a data file, with typed field access that throws
/// `DataLoadError`s naming file, record and field.
struct JSONRecord {
    let fields: [String: Any]
    let file: String
    let index: Int

    init(_ raw: Any, file: String, index: Int) throws {
        self.file = file
        self.index = index
        guard let dict = raw as? [String: Any] else {
            throw DataLoadError(file: file, record: index, message: "is not a JSON object (got \(JSONRecord.kind(raw)))")
        }
        self.fields = dict
    }

    func error(_ field: String?, _ message: String) -> DataLoadError {
        DataLoadError(file: file, record: index, field: field, message: message)
    }

    /// The field as text if present and a string or number; nil if absent or null.
    func optionalString(_ key: String) throws -> String? {
        guard let v = fields[key], !(v is NSNull) else { return nil }
        if let s = v as? String { return s }
        if let n = v as? NSNumber { return n.stringValue }
        throw error(key, "expected a string, got \(JSONRecord.kind(v))")
    }

    /// The field as non-empty text (after trimming); throws when missing or empty.
    func string(_ key: String) throws -> String {
        guard let s = try optionalString(key) else { throw error(key, "is missing") }
        guard !s.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw error(key, "is empty") }
        return s
    }

    static func kind(_ v: Any) -> String {
        switch v {
        case is NSNull: return "null"
        case is String: return "a string"
        case is NSNumber: return "a number"
        case is [Any]: return "a list"
        case is [String: Any]: return "an object"
        default: return "\(type(of: v))"
        }
    }
}

/// Reads a JSON file whose top level must be a list of records (a regular file
/// of at most `FileInput.maxDataJSONBytes`); a syntax error names its line and column.
func readJSONList(_ url: URL) throws -> [Any] {
    let data: Data
    do {
        data = try FileInput.read(url, limit: FileInput.maxDataJSONBytes, what: "a data-set JSON file")
    } catch let e as FileInputError {
        throw DataLoadError(file: url.path, message: e.message)
    }
    let top: Any
    do {
        top = try FileInput.jsonObject(data)
    } catch let e as FileInput.JSONSyntaxError {
        throw DataLoadError(file: url.path, message: "is not valid JSON: \(e.description)")
    }
    guard let list = top as? [Any] else {
        throw DataLoadError(file: url.path, message: "must hold a JSON list of records, got \(JSONRecord.kind(top))")
    }
    return list
}

/// Answer text compared loosely: trimmed, case-folded, one final "." dropped, and
/// inner runs of whitespace collapsed ("Lung." == " lung" == "LUNG").
func normalizedAnswer(_ s: String) -> String {
    var t = s.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    if t.hasSuffix(".") { t.removeLast() }
    t = t.trimmingCharacters(in: .whitespacesAndNewlines)
    return t.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
}

/// Resolves an image path from a record against `root` (absolute paths kept) and
/// checks that the file exists.
func resolveImage(_ path: String, root: URL, record: JSONRecord, field: String) throws -> String {
    let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : root.appendingPathComponent(path)
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), !isDir.boolValue else {
        throw record.error(field, "image file not found: \(url.path)")
    }
    return url.path
}

// MARK: - Spellings of modalities and question types

extension Modality {
    /// Parses the modality spellings found in OmniMedVQA and Med-R1 data:
    /// `CT(Computed Tomography)`, `MR (Mag-netic Resonance Imaging)`, `X-Ray`,
    /// `ultrasound`, `Dermoscopy`, `Fundus Photography`,
    /// `OCT (Optical Coherence Tomography`, `Microscopy Images`, and the canonical
    /// names. Compared on letters only, lower-cased, by prefix.
    public init?(spelling: String) {
        let letters = String(spelling.lowercased().unicodeScalars.filter { ("a"..."z").contains($0) }.map(Character.init))
        let table: [(String, Modality)] = [
            ("computedtomography", .ct), ("ct", .ct),
            ("magneticresonance", .mri), ("mri", .mri), ("mr", .mri),
            ("xray", .xray), ("radiograph", .xray),
            ("ultrasound", .ultrasound), ("ultrasonography", .ultrasound),
            ("dermoscopy", .dermoscopy), ("dermatoscopy", .dermoscopy),
            ("fundus", .fundus),
            ("opticalcoherence", .oct), ("oct", .oct),
            ("microscopy", .microscopy),
        ]
        for (prefix, m) in table where letters.hasPrefix(prefix) {
            self = m
            return
        }
        return nil
    }
}

extension QuestionType {
    /// Parses a question-type string: the OmniMedVQA spelling (any case, any
    /// spacing or underscores), or its first word ("Modality", "Anatomy", ...).
    public init?(spelling: String) {
        let key = String(spelling.lowercased().unicodeScalars.filter { ("a"..."z").contains($0) }.map(Character.init))
        for q in QuestionType.allCases {
            let full = q.rawValue.lowercased().replacingOccurrences(of: " ", with: "")
            let first = String(q.rawValue.lowercased().prefix { $0 != " " })
            if key == full || key == first || (q == .attribute && key.hasPrefix("biologicalattribute")) {
                self = q
                return
            }
        }
        if key == "grading" { self = .grading; return }
        return nil
    }
}
