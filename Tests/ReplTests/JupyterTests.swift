import XCTest
import MedR1Lib
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

    /// Runs `python` with a script; returns its status, its standard output,
    /// and its standard error (Python's warnings, tracebacks) for messages.
    static func runPython(_ python: String, _ code: String, arguments: [String] = [],
                          directory: URL? = nil) throws -> (status: Int32, output: String, errors: String) {
        let r = try TestSupport.runProcess(URL(fileURLWithPath: "/usr/bin/env"), [python, "-c", code] + arguments,
                                           directory: directory)
        return (r.status, r.stdout, r.stderr)
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
        XCTAssertEqual(check.status, 0, check.output + check.errors)
        XCTAssertEqual(check.output, "4 5 medr1 ['markdown', 'code', 'code', 'code'] [None, 1, 2, 3] "
            + "['stream', 'display_data', 'display_data', 'stream', 'display_data']\n")
    }

    /// The repository folder (Tests/ReplTests/../..).
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A kernel spec for the built binary under `dir`, found through $JUPYTER_PATH
    /// (the caller unsets it and $JUPYTER_RUNTIME_DIR). Progress displays update
    /// after every step, so which updates come does not depend on the clock.
    static func installKernel(python: String, in dir: URL) throws {
        let spec = dir.appendingPathComponent("share/jupyter/kernels/medr1")
        try FileManager.default.createDirectory(at: spec, withIntermediateDirectories: true)
        let kernelJSON: [String: Any] = [
            "argv": [python, "-m", "medr1_kernel", "-f", "{connection_file}"], "display_name": "medr1", "language": "medr1",
            "interrupt_mode": "signal",
            "env": ["MEDR1_REPL": BinaryHarness.binary.path, "PYTHONPATH": Self.repository.appendingPathComponent("jupyter").path,
                    "MEDR1_PROGRESS_INTERVAL": "0"],
        ]
        try JSONSerialization.data(withJSONObject: kernelJSON).write(to: spec.appendingPathComponent("kernel.json"))
        setenv("JUPYTER_PATH", dir.appendingPathComponent("share/jupyter").path, 1)
        setenv("JUPYTER_RUNTIME_DIR", dir.appendingPathComponent("runtime").path, 1)
    }

    /// Training steps in a cell show one display, updated in place: display_data, then
    /// update_display_data with the same display_id on iopub; a saved notebook keeps
    /// the display's final state and still validates.
    func testKernelShowsStepsAsAnUpdatingDisplay() throws {
        guard let python = Self.python(with: ["nbclient", "ipykernel", "jupyter_client", "nbformat"]) else {
            throw XCTSkip("no Python with nbclient, ipykernel and jupyter_client (scripts/setup installs Debian's python3-nbclient "
                          + "and python3-ipykernel): progress displays are not checked")
        }
        let dir = try TestSupport.temporaryDirectory("medr1-progress")
        try Self.installKernel(python: python, in: dir)
        defer { unsetenv("JUPYTER_PATH"); unsetenv("JUPYTER_RUNTIME_DIR") }
        let setup = """
            let data = synth(n: 8, seed: 3, size: 16, to: "d")
            let m = model(tokenizer: data.tokenizer(vocab: 300), seed: 1, d_model: 16, n_heads: 2, vision_layers: 1, text_layers: 1, image_size: 16, patch: 8)
            let t = grpo(m, data, group: 2, prompts: 2, max_tokens: 4, seed: 1)
            """
        let result = try Self.runPython(python, """
            import sys, nbformat
            from nbclient import NotebookClient
            from jupyter_client.manager import start_new_kernel
            setup, steps = sys.argv[1], "step t, 3, quiet: true"
            nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup), nbformat.v4.new_code_cell(steps)])
            NotebookClient(nb, kernel_name="medr1", timeout=120, resources={"metadata": {"path": sys.argv[2]}}).execute()
            nbformat.validate(nb)
            print("saved", [(o.output_type, o.get("data", {}).get("text/plain", o.get("text", "")).split("  ")[0])
                            for o in nb.cells[1].outputs])
            km, kc = start_new_kernel(kernel_name="medr1", cwd=sys.argv[2])
            try:
                kc.execute_interactive(setup, timeout=120, output_hook=lambda msg: None)
                shown = []
                kc.execute_interactive(steps, timeout=120, output_hook=shown.append)
                shown = [m for m in shown if m["msg_type"] in ("display_data", "update_display_data")]
                print("ids", len({m["content"]["transient"]["display_id"] for m in shown}),
                      shown[0]["content"]["transient"]["display_id"].startswith("medr1-progress-"))
                for m in shown:
                    print(m["msg_type"], m["content"]["data"]["text/plain"].split("  ")[0],
                          m["content"]["data"]["text/html"].startswith('<div class="medr1-progress"><progress '))
            finally:
                kc.stop_channels()
                km.shutdown_kernel(now=True)
            """, arguments: [setup, dir.path])
        XCTAssertEqual(result.status, 0, result.output + result.errors)
        XCTAssertEqual(result.output.split(separator: "\n").map(String.init), [
            "saved [('display_data', 'grpo step 3/3')]",
            "ids 1 True",
            "display_data grpo step 0/3 True",
            "update_display_data grpo step 1/3 True",
            "update_display_data grpo step 2/3 True",
            "update_display_data grpo step 3/3 True",
        ], result.output + result.errors)
    }

    /// A temporary folder with the medr1 kernel installed and a copy of the shipped
    /// kernel_tour.ipynb two folders down (it writes to ../../out, as from scripts/examples,
    /// which stays inside the temporary folder).
    static func shippedNotebook(python: String, folder: String) throws -> (dir: URL, work: URL, notebook: URL) {
        let dir = try TestSupport.temporaryDirectory(folder)
        let work = dir.appendingPathComponent("a/b")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let notebook = work.appendingPathComponent("kernel_tour.ipynb")
        try FileManager.default.copyItem(at: repository.appendingPathComponent("scripts/examples/kernel_tour.ipynb"), to: notebook)
        try installKernel(python: python, in: dir)
        return (dir, work, notebook)
    }

    /// The shipped notebook runs through the kernel under nbclient, as
    /// JupyterLab or nbconvert would run it; completion, help and interrupt
    /// go through jupyter_client's requests.
    func testKernelRunsTheShippedNotebook() throws {
        guard let python = Self.python(with: ["nbclient", "ipykernel", "jupyter_client", "nbformat"]) else {
            throw XCTSkip("no Python with nbclient, ipykernel and jupyter_client (scripts/setup installs Debian's python3-nbclient "
                          + "and python3-ipykernel): the Jupyter kernel is not checked")
        }
        let (_, work, notebook) = try Self.shippedNotebook(python: python, folder: "medr1-kernel")
        defer { unsetenv("JUPYTER_PATH"); unsetenv("JUPYTER_RUNTIME_DIR") }
        let result = try Self.runPython(python, """
            import json, queue, sys, time, nbformat
            from nbclient import NotebookClient
            from jupyter_client.manager import start_new_kernel
            nb = nbformat.read(sys.argv[1], as_version=4)
            NotebookClient(nb, kernel_name="medr1", timeout=120, resources={"metadata": {"path": sys.argv[2]}}).execute()
            nbformat.validate(nb)
            for c in nb.cells:
                if c.cell_type != "code": continue
                print("cell", c.execution_count, [(o.output_type, sorted(o.get("data", {}))) for o in c.outputs])
                for o in c.outputs:
                    if o.output_type == "stream": print("  text", repr(o.text))
                    if "text/html" in o.get("data", {}): print("  html", o.data["text/html"].count("<tr>"), "rows")
                    if "image/png" in o.get("data", {}): print("  png", o.data["image/png"][:8])
            km, kc = start_new_kernel(kernel_name="medr1", cwd=sys.argv[2])
            def reply(msg_id):
                while True:
                    msg = kc.get_shell_msg(timeout=60)
                    if msg["parent_header"].get("msg_id") == msg_id:
                        return msg["content"]
            try:
                r = reply(kc.complete("print(me", 8))
                print("complete", r["matches"], r["cursor_start"], r["cursor_end"])
                r = reply(kc.inspect("band(x)", 2))
                print("inspect", r["found"], r["data"]["text/plain"].splitlines()[0])
                msg_id = kc.execute(chr(10).join(["let i = 0", "while true { i += 1 }"]))
                # Interrupt until the cell ends: a press that lands before the
                # loop starts is spent when the cell begins, as at a prompt.
                r = None
                for attempt in range(6):
                    time.sleep(2)
                    km.interrupt_kernel()
                    try:
                        while r is None:
                            msg = kc.get_shell_msg(timeout=10)
                            if msg["parent_header"].get("msg_id") == msg_id:
                                r = msg["content"]
                        break
                    except queue.Empty:
                        continue
                print("interrupt", r["status"], r.get("evalue", "").split(":")[0])
                # ipykernel aborts requests that reach it just after an error reply (stop_on_error):
                # an aborted request did not run, so it is sent again.
                for attempt in range(10):
                    r = reply(kc.execute("i > 0"))
                    if r["status"] != "aborted":
                        break
                    time.sleep(0.5)
                print("after", r["status"])
            finally:
                kc.stop_channels()
                km.shutdown_kernel(now=True)
            """, arguments: [notebook.path, work.path])
        XCTAssertEqual(result.status, 0, result.output + result.errors)
        let lines = result.output.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(lines.prefix(9)), [
            "cell 1 [('stream', []), ('stream', [])]",
            "  text 'squares [1, 4, 9, 16]\\n'",
            "  text '7.5\\n'",
            "cell 2 [('display_data', ['text/html', 'text/plain'])]",
            "  html 6 rows",
            "cell 3 [('display_data', ['image/png', 'text/plain'])]",
            "  png iVBORw0K",
            "cell 4 [('stream', [])]",
            "  text 'band(runs, \"metric\")\\n  Per step, the mean, sample standard deviation (n - 1) and number of runs of one metric over several runs.\\n  example: band([t1, t2, t3], \"reward\")\\n'",
        ], result.output + result.errors)
        XCTAssertTrue(lines.contains("complete ['mean'] 6 8"), result.output)
        XCTAssertTrue(lines.contains("inspect True band(runs, \"metric\")"), result.output)
        XCTAssertTrue(lines.contains("interrupt error interrupted"), result.output)
        XCTAssertTrue(lines.contains("after ok"), result.output + result.errors)
    }

    /// The shipped notebook, executed through the kernel under nbclient, turned
    /// into HTML by nbconvert and opened in headless Chromium: the screenshot
    /// shows text above and below the plot, and the plot the kernel sent,
    /// whole and unscaled, with its line rising as the squares do.
    func testExecutedNotebookRendersInChromium() throws {
        guard let python = Self.python(with: ["nbclient", "ipykernel", "jupyter_client", "nbformat", "nbconvert"]) else {
            throw XCTSkip("no Python with nbclient, ipykernel and nbconvert (scripts/setup installs Debian's python3-nbclient, "
                          + "python3-ipykernel and python3-nbconvert): the executed notebook's page is not checked")
        }
        guard let chromium = Screenshot.chromium else {
            throw XCTSkip("no Chromium (scripts/setup installs Debian's chromium): the executed notebook's page is not checked")
        }
        let (dir, work, notebook) = try Self.shippedNotebook(python: python, folder: "medr1-shot")
        defer { unsetenv("JUPYTER_PATH"); unsetenv("JUPYTER_RUNTIME_DIR") }
        let page = dir.appendingPathComponent("kernel_tour.html"), plot = dir.appendingPathComponent("plot.png")
        let result = try Self.runPython(python, """
            import base64, sys, nbformat
            from nbclient import NotebookClient
            from nbconvert import HTMLExporter
            nb = nbformat.read(sys.argv[1], as_version=4)
            NotebookClient(nb, kernel_name="medr1", timeout=120, resources={"metadata": {"path": sys.argv[2]}}).execute()
            html, _ = HTMLExporter().from_notebook_node(nb)
            with open(sys.argv[3], "w", encoding="utf-8") as f:
                f.write(html)
            plots = [o.data["image/png"] for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
            with open(sys.argv[4], "wb") as f:
                f.write(base64.b64decode(plots[0]))
            print("plots", len(plots))
            """, arguments: [notebook.path, work.path, page.path, plot.path])
        XCTAssertEqual(result.status, 0, result.output + result.errors)
        XCTAssertEqual(result.output, "plots 1\n", result.errors)
        guard result.status == 0 else { return }

        let (width, height) = (1000, 2000)
        let shotFile = dir.appendingPathComponent("kernel_tour.png")
        try Screenshot.take(chromium: chromium, page: page, to: shotFile, width: width, height: height, scratch: dir)
        let shot = try PNGImage.read(shotFile), sent = try PNGImage.read(plot)
        let seen = "screenshot \(shotFile.path)"
        XCTAssertEqual([shot.width, shot.height], [width, height], seen)

        // Not blank, not a bare error message: text, the code cells' grey boxes, the
        // table and the plot cover about a tenth of the page, and most of it stays white.
        let inked = Screenshot.inkedFraction(shot)
        XCTAssertTrue((0.03...0.5).contains(inked), "\(Int(inked * 100))% of the page is not white: \(seen)")

        // The plot's line is the first colour of medr1's palette. The screenshot holds
        // as many pixels of it as the plot the kernel sent, no more (no second plot),
        // no fewer (not cropped, not scaled down).
        let line = "#1f77b4"
        let inShot = Screenshot.pixels(of: shot, near: line), inPlot = Screenshot.pixels(of: sent, near: line)
        XCTAssertGreaterThan(inPlot.count, 200, "the kernel's plot has no line drawn in \(line)")
        XCTAssertEqual(Double(inShot.count), Double(inPlot.count), accuracy: Double(inPlot.count) * 0.05,
                       "pixels of the plot's line colour \(line): \(seen)")
        guard let shotBox = inShot.box, let plotBox = inPlot.box else {
            return XCTFail("no pixel of the plot's line colour \(line) on the page: \(seen)")
        }
        // Where the line sits in the screenshot places the whole plot: pixel for pixel
        // the image the kernel sent (axes, ticks, labels and key as well as the line).
        let (x0, y0) = (shotBox.minX - plotBox.minX, shotBox.minY - plotBox.minY)
        let difference = Screenshot.difference(shot, sent, atX: x0, y: y0)
        XCTAssertNotNil(difference, "the plot, placed at (\(x0), \(y0)), does not fit on the page: \(seen)")
        XCTAssertLessThan(difference ?? 1, 0.01, "the page's plot at (\(x0), \(y0)) differs from the kernel's: \(seen)")
        // The line rises to the right (1, 4, 9, 16): where it starts, at the left edge
        // of the colour's box, is far below where it ends, at the right edge.
        let column = { (x: Int) in (shotBox.minY...shotBox.maxY).filter { Screenshot.isNear(Screenshot.rgb(shot, $0, x), line) } }
        let (start, end) = (column(shotBox.minX), column(shotBox.maxX))
        XCTAssertGreaterThan(start.min() ?? 0, (end.max() ?? height) + 200, "the line does not rise from left to right: \(seen)")

        // Text above the plot (the prose, three cells, their outputs and the table's
        // seven lines) and below it (help's cell and its three lines).
        let above = Screenshot.darkBands(shot, rows: 0..<y0), below = Screenshot.darkBands(shot, rows: (y0 + sent.height)..<height)
        XCTAssertGreaterThanOrEqual(above, 15, "lines of text above the plot: \(seen)")
        XCTAssertGreaterThanOrEqual(below, 4, "lines of text below the plot: \(seen)")
        print("screenshot: \(Int(inked * 100))% inked, line \(inShot.count)/\(inPlot.count) px, plot at (\(x0), \(y0)) "
              + "differs by \(difference ?? 1), \(above) lines above, \(below) below")
    }

    /// `--tensorboard DIR` writes event files that TensorBoard's own reader
    /// loads: one run folder per trainer, TRL's tags, every step.
    func testTensorBoardReadsTheEventFiles() throws {
        let dir = try TestSupport.temporaryDirectory("medr1-tb")
        let script = dir.appendingPathComponent("tb.medr1")
        try """
            let data = synth(n: 8, seed: 3, size: 16, to: "d")
            let m = model(tokenizer: data.tokenizer(vocab: 300), seed: 1, d_model: 16, n_heads: 2, vision_layers: 1, text_layers: 1, image_size: 16, patch: 8)
            step sft(m, data, batch: 4), 3, quiet: true
            step grpo(m, data, group: 2, prompts: 2, max_tokens: 4, seed: 1), 2, quiet: true

            """.write(to: script, atomically: true, encoding: .utf8)
        let run = try BinaryHarness.run(["run", script.path, "--tensorboard", dir.appendingPathComponent("tb").path], directory: dir)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("tb").path).sorted(), ["grpo-2", "sft-1"])
        guard let python = Self.python(with: ["tensorboard"]) else {
            throw XCTSkip("no Python with tensorboard (pip install tensorboard): the event files are not read back")
        }
        let check = try Self.runPython(python, """
            import sys
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            for run in ["sft-1", "grpo-2"]:
                acc = EventAccumulator(sys.argv[1] + "/" + run)
                acc.Reload()
                tags = acc.Tags()["scalars"]
                key = "train/loss" if run == "sft-1" else "train/reward"
                print(run, len(tags), key in tags, [e.step for e in acc.Scalars(key)])
            """, arguments: [dir.appendingPathComponent("tb").path])
        XCTAssertEqual(check.status, 0, check.output + check.errors)
        let lines = check.output.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, check.output)
        XCTAssertTrue(lines[0].hasPrefix("sft-1 ") && lines[0].hasSuffix(" True [1, 2, 3]"), check.output)
        XCTAssertTrue(lines[1].hasPrefix("grpo-2 ") && lines[1].hasSuffix(" True [1, 2]"), check.output)
    }
}
