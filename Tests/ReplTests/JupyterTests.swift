import XCTest
import TestSupport

/// Notebooks as Jupyter reads them: `notebook -o x.ipynb` checked with the
/// system Python's nbformat (installed by scripts/setup; skipped without it).
final class JupyterTests: XCTestCase {
    /// A Python 3 that imports all of `modules`: Debian's first (scripts/setup
    /// installs the Jupyter packages there), then the one on the PATH.
    static func python(with modules: [String]) -> String? {
        for candidate in ["/usr/bin/python3", "/usr/local/bin/python3", "python3"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [candidate, "-c", "import " + modules.joined(separator: ", ")]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { continue }
            process.waitUntilExit()
            if process.terminationStatus == 0 { return candidate }
        }
        return nil
    }

    /// Runs `python` with a script; returns its status and output.
    static func runPython(_ python: String, _ code: String, arguments: [String] = [],
                          directory: URL? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", code] + arguments
        if let directory { process.currentDirectoryURL = directory }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static let script = """
        # %% [markdown]
        # # Squares
        #
        # A *prose* cell: `xs` holds the **squares**, see [docs](docs/tutorial.md).
        #
        # | n | n² |
        # |---|----|
        # | 2 | 4  |

        # %% numbers
        let xs = [1, 4, 9, 16]
        print("squares", xs)
        mean(xs)
        # %% a plot
        plot(xs)
        # %% data
        let d = synth(n: 8, seed: 3, to: "data")
        show d[0]
        plot xs, to: "out/xs.png"

        """

    /// The page renders prose as prose, validates as nbformat 4, and names
    /// no folder of this machine (paths are relative to the page).
    func testIpynbValidatesAndPagesAreRelative() throws {
        let dir = try TestSupport.temporaryDirectory("medr1-ipynb")
        let script = dir.appendingPathComponent("nb.medr1")
        try Self.script.write(to: script, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("pages"), withIntermediateDirectories: true)
        var pages: [String: String] = [:]
        for ext in ["ipynb", "html", "md"] {
            let out = dir.appendingPathComponent("pages/nb.\(ext)")
            let result = try BinaryHarness.run(["notebook", script.path, "-o", out.path], directory: dir)
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertEqual(result.stderr, "wrote \(out.path): 4 cells, 3 images\n")
            pages[ext] = try String(contentsOf: out, encoding: .utf8)
            XCTAssertFalse(pages[ext]!.contains(dir.path), "\(ext) names the machine's folder \(dir.path)")
            XCTAssertFalse(pages[ext]!.contains(FileManager.default.temporaryDirectory.path), ext)
        }
        XCTAssertTrue(pages["html"]!.contains("<h1>Squares</h1><p>A <em>prose</em> cell: <code>xs</code> holds the "
            + "<strong>squares</strong>, see <a href=\"docs/tutorial.md\">docs</a>.</p><table>"), pages["html"]!)
        XCTAssertTrue(pages["html"]!.contains("image: ../data/Images/SynthMed/"), "the sample's image, relative to the page")
        XCTAssertTrue(pages["md"]!.contains("\n# Squares\n\nA *prose* cell:"), pages["md"]!)
        XCTAssertTrue(pages["ipynb"]!.contains("\"cell_type\" : \"markdown\""), pages["ipynb"]!)

        guard let python = Self.python(with: ["nbformat"]) else {
            throw XCTSkip("no Python with nbformat (scripts/setup installs python3-nbformat): .ipynb not validated")
        }
        let check = try Self.runPython(python, """
            import sys, nbformat
            nb = nbformat.read(sys.argv[1], as_version=4)
            nbformat.validate(nb)
            print(nb.nbformat, nb.nbformat_minor, nb.metadata.kernelspec.name,
                  [c.cell_type for c in nb.cells], [c.get("execution_count") for c in nb.cells],
                  [o.output_type for c in nb.cells for o in c.get("outputs", [])])
            """, arguments: [dir.appendingPathComponent("pages/nb.ipynb").path])
        XCTAssertEqual(check.status, 0, check.output)
        XCTAssertEqual(check.output, "4 5 medr1 ['markdown', 'code', 'code', 'code'] [None, 1, 2, 3] "
            + "['stream', 'display_data', 'display_data', 'stream', 'display_data']\n")
    }
}
