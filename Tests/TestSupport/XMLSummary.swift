import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Parses markup as XML and records element counts, image sources and text.
public final class XMLSummary: NSObject, XMLParserDelegate {
    private var counts: [String: Int] = [:]
    public private(set) var imageSources: [String] = []
    public private(set) var text = ""

    public static func parse(_ markup: String) throws -> XMLSummary {
        // XMLParser does not know HTML's doctype; drop it.
        let body = markup.replacingOccurrences(of: "<!DOCTYPE html>", with: "")
        let parser = XMLParser(data: Data(body.utf8))
        let summary = XMLSummary()
        parser.delegate = summary
        guard parser.parse() else {
            throw NSError(domain: "XMLSummary", code: 1, userInfo: [
                NSLocalizedDescriptionKey: "not well-formed at line \(parser.lineNumber), column \(parser.columnNumber): "
                    + "\(parser.parserError.map { "\($0)" } ?? "?")"])
        }
        return summary
    }

    public func count(of element: String) -> Int { counts[element] ?? 0 }

    public func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String] = [:]) {
        counts[name, default: 0] += 1
        if name == "img", let src = attributes["src"] { imageSources.append(src) }
    }

    public func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
}
